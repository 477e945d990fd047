"""Helpers the subcommand modules share: opening the store, tables, progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.progress import Progress, TaskState
from core.store import Store, open_store
from core.workspace import workspace_dir


def store_from_args(args: argparse.Namespace) -> Store:
    return open_store(workspace_dir(args.home))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], out=None) -> None:
    out = out or sys.stdout
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def terminal_progress(label: str) -> TaskState:
    """A TaskState drawing a one-line bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return TaskState()
    last = [-1]

    def draw(p: Progress) -> None:
        if p.total <= 0:
            return
        pct = int(100 * p.done / p.total)
        if pct == last[0] and p.done != p.total:
            return
        last[0] = pct
        bar = "#" * (pct // 4)
        sys.stderr.write(f"\r{label} [{bar:<25}] {pct:3d}% {p.done}/{p.total}")
        if p.done >= p.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return TaskState(on_update=draw)
