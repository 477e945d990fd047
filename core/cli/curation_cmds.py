"""Curation subcommands: the decision log, the current rater, search."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from core import curation
from core.cli.common import store_from_args
from core.errors import UsageError
from core.store.decisions import DecisionRecord


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "decisions",
        help="print the decision log (who decided what about which turn, when)",
        description="Print the append-only decision log, oldest first: turn id, transcript id, "
        "rater, action, rating, reason, note and time (ISO 8601, UTC). Undo and redo appear "
        "as rows of their own; category changes have no turn id.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--rater", metavar="NAME", help="only this rater's rows")
    p.add_argument("--transcript", type=int, metavar="ID", help="only rows about this transcript")
    p.set_defaults(handler=cmd_decisions)

    p = sub.add_parser(
        "rater",
        help="show or set who is curating",
        description="With no NAME, print the current rater (the saved choice, else the "
        "operating-system user name). With NAME, save it as the current rater.",
    )
    p.add_argument("name", nargs="?", metavar="NAME")
    p.set_defaults(handler=cmd_rater)

    p = sub.add_parser("search", help="find turns containing every given word")
    p.add_argument("query", nargs="+", metavar="WORD")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N hits (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_search)


def record_json(r: DecisionRecord) -> dict:
    return {
        "id": r.id,
        "batch": r.batch,
        "turn_id": r.turn_id,
        "transcript_id": r.transcript_id,
        "rater": r.rater,
        "action": r.action,
        "status": r.status.value if r.status is not None else None,
        "rating": r.rating,
        "reason": r.reason.value if r.reason is not None else None,
        "note": r.note,
        "flagged": r.flagged,
        "category": r.category,
        "prev_category": r.prev_category,
        "time": r.at,
    }


_COLUMNS = [("TIME", 29), ("TURN", 8), ("TRANSCRIPT", 10), ("RATER", 14), ("ACTION", 8),
            ("STATUS", 10), ("RATING", 6), ("REASON", 26), ("NOTE", 0)]


def _cells(r: DecisionRecord) -> list[str]:
    status = r.status.value if r.status is not None else f"category {r.category}"
    # A note is free text: never let it move the cursor or recolour the terminal.
    note = "".join(ch if ch.isprintable() else " " for ch in (r.note or ""))
    if r.flagged:
        note = f"[flagged] {note}".rstrip()
    return [r.at, str(r.turn_id) if r.turn_id is not None else "-", str(r.transcript_id), r.rater,
            r.action, status, str(r.rating) if r.rating is not None else "",
            r.reason.value if r.reason is not None else "", note]


def _print_rows(rows: Iterable[DecisionRecord], out) -> int:
    # Fixed widths so a log of any length streams instead of being held to size columns.
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, (_, w) in zip(cells, _COLUMNS, strict=True)).rstrip()

    print(line([name for name, _ in _COLUMNS]), file=out)
    print(line(["-" * max(w, len(name)) for name, w in _COLUMNS]), file=out)
    n = 0
    for r in rows:
        print(line(_cells(r)), file=out)
        n += 1
    return n


def cmd_decisions(args: argparse.Namespace) -> int:
    rater = curation.check_rater(args.rater) if args.rater is not None else None
    out = sys.stdout
    with store_from_args(args) as store:
        rows: Iterable[DecisionRecord] = curation.decision_log(store)
        if rater is not None:
            rows = (r for r in rows if r.rater == rater)
        if args.transcript is not None:
            rows = (r for r in rows if r.transcript_id == args.transcript)
        if args.json:
            for r in rows:
                out.write(json.dumps(record_json(r), ensure_ascii=False) + "\n")
            return 0
        n = _print_rows(rows, out)
    if n == 0:
        print("(no decisions yet)", file=out)
    return 0


def cmd_rater(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        if args.name is None:
            print(curation.default_rater(store))
            return 0
        curation.set_current_rater(store, args.name)
        print(f"current rater set to {curation.get_current_rater(store)}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit: must be 1 or more, got {args.limit}")
    query = " ".join(args.query)
    with store_from_args(args) as store:
        hits = curation.search(store, query, limit=args.limit)
    for h in hits:
        if args.json:
            print(json.dumps({"turn_id": h.turn_id, "transcript_id": h.transcript_id,
                              "position": h.position, "role": h.role,
                              "snippet": h.snippet.replace(curation.SNIPPET_OPEN, "").replace(
                                  curation.SNIPPET_CLOSE, "")}, ensure_ascii=False))
        else:
            text = h.snippet.replace(curation.SNIPPET_OPEN, "*").replace(curation.SNIPPET_CLOSE, "*")
            print(f"transcript {h.transcript_id} turn {h.turn_id} (#{h.position + 1}, {h.role}): {text}")
    if not hits and not args.json:
        print("no matching turns")
    return 0
