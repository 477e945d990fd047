"""Helpers the subcommand modules share: opening the store, tables, progress."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from core.progress import Progress, TaskState
from core.store import Store, open_store, verify_integrity
from core.workspace import workspace_dir


def store_from_args(args: argparse.Namespace, *, create: bool = False) -> Store:
    """Open the workspace; only ``init`` and ``import`` may create one (a typo in --home must not).

    The integrity check (``PRAGMA quick_check``, ~1 s on a million turns) is
    not run for commands that only read (``only_reads``); a command that may
    write runs it on a read-only connection of its own, and not again while
    the file is unchanged since the last clean check (``check_once``). A
    pending migration is always checked first, by ``open_store`` itself.
    """
    store = open_store(workspace_dir(args.home), create=create, check=False)
    if not only_reads(args):
        try:
            check_once(store.path)
        except BaseException:
            store.close()
            raise
    return store


# (command, its action) pairs that never write to the workspace; None: no action given.
_READ_ONLY = {
    "stats": None, "dump": None, "show": None, "metadata": None, "decisions": None, "search": None,
    "systems": None, "transcripts": {None, "list"}, "dataset": {"list", "show", "export"},
}


def only_reads(args: argparse.Namespace) -> bool:
    command = getattr(args, "command", None)
    if command not in _READ_ONLY:
        return False  # unknown here: assume it writes, and check
    actions = _READ_ONLY[command]
    if actions is None:
        return True
    action = getattr(args, f"{command}_command", None)
    return action in actions


CHECKED_FILENAME = ".integrity-checked"


def _signature(db_path: Path) -> list[int] | None:
    """Size and mtime of the database and of its log.

    Any committed write changes one of them (in WAL mode the log's, and a
    checkpoint the database's), so an equal signature means the bytes the
    last clean check read are unchanged.
    """
    try:
        st = db_path.stat()
        wal = Path(f"{db_path}-wal")
        wst = wal.stat() if wal.exists() else None
    except OSError:
        return None
    # Never open() the database here: closing that descriptor would drop the
    # POSIX locks of the Store already open in this process, and another
    # process closing could then delete the WAL under it (howtocorrupt §2.2;
    # seen as lost WALs in tests/core/test_concurrent_writers.py). Not ctime
    # either: every open_store chmods the files, which changes it.
    if wst is None or wst.st_size == 0:  # an empty log (any open connection has one) holds nothing
        return [st.st_size, st.st_mtime_ns, -1, -1]
    return [st.st_size, st.st_mtime_ns, wst.st_size, wst.st_mtime_ns]


def check_once(db_path: Path) -> None:
    """``verify_integrity`` unless the file is unchanged since its last clean check; remember a clean one."""
    record = db_path.parent / CHECKED_FILENAME
    before = _signature(db_path)
    try:
        if before is not None and json.loads(record.read_text(encoding="utf-8")) == before:
            return
    except (OSError, ValueError):
        pass
    verify_integrity(db_path)  # raises WorkspaceCorrupt, naming the newest backup
    if before is None or _signature(db_path) != before:
        return  # written to while we checked: check again next time
    tmp = record.with_name(f"{CHECKED_FILENAME}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(before))
        os.replace(tmp, record)
    except OSError:  # a read-only folder: the next command checks again, nothing worse
        with contextlib.suppress(OSError):
            tmp.unlink()


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
