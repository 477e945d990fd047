"""Curation subcommands: the decision log, deciding, undo/redo, the current rater, search."""

from __future__ import annotations

import argparse
import heapq
import json
import sys
from collections.abc import Iterable

from cli.common import store_from_args
from core import curation
from core.errors import UsageError
from core.models import DecisionRecord, RedactionRecord, turn_number


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

    p = sub.add_parser("include", help="include therapist turns in training data")
    p.add_argument("turns", nargs="+", type=int, metavar="TURN")
    _rater_option(p)
    p.set_defaults(handler=cmd_include)

    p = sub.add_parser("exclude", help="exclude turns (therapist or client), with a reason",
                       description="Exclude turns: an excluded therapist turn is never a target, and no "
                       "text of any excluded turn (therapist or client) appears in an export or a prompt.")
    p.add_argument("turns", nargs="+", type=int, metavar="TURN")
    p.add_argument("--reason", required=True, metavar="REASON",
                   help="; ".join(r.value for r in curation.ExcludeReason) + " (or its first word)")
    p.add_argument("--note", metavar="TEXT")
    _rater_option(p)
    p.set_defaults(handler=cmd_exclude)

    p = sub.add_parser(
        "redact",
        help="hide a span of a turn's text from every export and prompt",
        description="Redact characters START to END (0-based, END exclusive, as Python slices) of a turn's "
        "text, or with --text every occurrence of TEXT in it. Exports and prompts show [redacted] in its "
        "place. One undoable step; any rater's redaction holds.",
    )
    p.add_argument("turn", type=int, metavar="TURN")
    p.add_argument("start", type=int, nargs="?", metavar="START")
    p.add_argument("end", type=int, nargs="?", metavar="END")
    p.add_argument("--text", metavar="TEXT", help="redact every occurrence of this text in the turn")
    p.add_argument("--reason", default="identifying", metavar="REASON",
                   help="as for exclude (default: identifying information)")
    _rater_option(p)
    p.set_defaults(handler=cmd_redact)

    p = sub.add_parser("unredact", help="remove your own redaction START-END from a turn")
    p.add_argument("turn", type=int, metavar="TURN")
    p.add_argument("start", type=int, metavar="START")
    p.add_argument("end", type=int, metavar="END")
    _rater_option(p)
    p.set_defaults(handler=cmd_unredact)

    p = sub.add_parser("redactions", help="list the redacted spans of turns (every rater)")
    p.add_argument("turns", nargs="+", type=int, metavar="TURN")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_redactions)

    p = sub.add_parser("rate", help="give therapist turns a 1-5 quality rating")
    p.add_argument("turns", nargs="+", type=int, metavar="TURN")
    p.add_argument("--rating", required=True, type=int, choices=range(1, 6), metavar="1-5")
    _rater_option(p)
    p.set_defaults(handler=cmd_rate)

    for name, what in (("undo", "undo the rater's latest decision step"),
                       ("redo", "redo the rater's latest undone step")):
        p = sub.add_parser(name, help=what)
        _rater_option(p)
        p.set_defaults(handler=cmd_undo if name == "undo" else cmd_redo)

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


def redaction_json(r: RedactionRecord) -> dict:
    return {"id": r.id, "batch": r.batch, "turn_id": r.turn_id, "transcript_id": r.transcript_id,
            "rater": r.rater, "action": r.action, "kind": "redaction",
            "start": r.start, "end": r.end, "reason": r.reason, "redacted": r.active, "time": r.at}


def _cells(r: DecisionRecord | RedactionRecord) -> list[str]:
    if isinstance(r, RedactionRecord):
        what = f"{'redacted' if r.active else 'unredacted'} {r.start}-{r.end}"
        return [r.at, str(r.turn_id), str(r.transcript_id), r.rater, r.action, what, "", r.reason, ""]
    status = r.status.value if r.status is not None else f"category {r.category}"
    # A note is free text: never let it move the cursor or recolour the terminal.
    note = "".join(ch if ch.isprintable() else " " for ch in (r.note or ""))
    if r.flagged:
        note = f"[flagged] {note}".rstrip()
    return [r.at, str(r.turn_id) if r.turn_id is not None else "-", str(r.transcript_id), r.rater,
            r.action, status, str(r.rating) if r.rating is not None else "",
            r.reason.value if r.reason is not None else "", note]


def _print_rows(rows: Iterable[DecisionRecord | RedactionRecord], out) -> int:
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
        # Decisions and redactions are two logs of the same steps: merged by step, then row.
        rows: Iterable[DecisionRecord | RedactionRecord] = heapq.merge(
            curation.decision_log(store), curation.redaction_log(store), key=lambda r: (r.batch, r.at, r.id)
        )
        if rater is not None:
            rows = (r for r in rows if r.rater == rater)
        if args.transcript is not None:
            rows = (r for r in rows if r.transcript_id == args.transcript)
        if args.json:
            for r in rows:
                obj = record_json(r) if isinstance(r, DecisionRecord) else redaction_json(r)
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
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
                              "position": h.position, "turn": turn_number(h.position), "role": h.role,
                              "snippet": h.snippet.replace(curation.SNIPPET_OPEN, "").replace(
                                  curation.SNIPPET_CLOSE, "")}, ensure_ascii=False))
        else:
            text = h.snippet.replace(curation.SNIPPET_OPEN, "*").replace(curation.SNIPPET_CLOSE, "*")
            # The turn number the app and `attune show` use; the id is what include/exclude take.
            print(f"transcript {h.transcript_id} turn {turn_number(h.position)} (id {h.turn_id}, {h.role}): {text}")
    if not hits and not args.json:
        print("no matching turns")
    return 0


# Deciding from the command line ###############################################


def _rater_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rater", metavar="NAME",
        help="who is deciding (default: the current rater, see `attune rater`, else your user name)",
    )


def _rater(args: argparse.Namespace, store) -> str:
    return curation.check_rater(args.rater) if args.rater is not None else curation.default_rater(store)


def parse_reason(text: str) -> curation.ExcludeReason:
    """A reason by its text or its first word, any case: "crisis", "Identifying"."""
    wanted = " ".join(text.lower().split())
    for reason in curation.ExcludeReason:
        if wanted in (reason.value, reason.value.split()[0], reason.name.lower()):
            return reason
    valid = "; ".join(r.value for r in curation.ExcludeReason)
    raise UsageError(f"--reason: unknown reason {text!r} (valid: {valid})")


def _turns(turn_ids: list[int]) -> str:
    n = len(set(turn_ids))
    return f"turn {turn_ids[0]}" if n == 1 else f"{n} turns"


def _done(changed: bool, message: str, rater: str) -> int:
    print(f"{message} (rater: {rater})" if changed else f"nothing changed: already so for {rater}")
    return 0


def cmd_include(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        rater = _rater(args, store)
        changes = curation.include(store, args.turns, rater=rater)
    return _done(changes.decisions, f"included {_turns(args.turns)}", rater)


def cmd_exclude(args: argparse.Namespace) -> int:
    reason = parse_reason(args.reason)
    with store_from_args(args) as store:
        rater = _rater(args, store)
        changes = curation.exclude(store, args.turns, rater=rater, reason=reason, note=args.note)
    return _done(changes.decisions, f"excluded {_turns(args.turns)}: {reason.value}", rater)


def cmd_rate(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        rater = _rater(args, store)
        changes = curation.rate(store, args.turns, rater=rater, rating=args.rating)
    return _done(changes.decisions, f"rated {_turns(args.turns)} {args.rating}", rater)


def cmd_undo(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        rater = _rater(args, store)
        label = curation.undo(store, rater=rater).value
    print(f"undone: {label}" if label else f"nothing to undo for {rater}")
    return 0


def cmd_redo(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        rater = _rater(args, store)
        label = curation.redo(store, rater=rater).value
    print(f"redone: {label}" if label else f"nothing to redo for {rater}")
    return 0


def _spans_for(store, args: argparse.Namespace) -> list[tuple[int, int]]:
    if args.text is not None:
        if args.start is not None or args.end is not None:
            raise UsageError("redact: give START END or --text, not both")
        text = curation.turn_text(store, args.turn)
        spans, pos = [], text.find(args.text) if args.text else -1
        while pos >= 0:
            spans.append((pos, pos + len(args.text)))
            pos = text.find(args.text, pos + len(args.text))
        if not spans:
            raise UsageError(f"--text: {args.text!r} does not occur in turn {args.turn}")
        return spans
    if args.start is None or args.end is None:
        raise UsageError("redact: give START and END (character offsets), or --text TEXT")
    return [(args.start, args.end)]


def cmd_redact(args: argparse.Namespace) -> int:
    reason = parse_reason(args.reason)
    with store_from_args(args) as store:
        rater = _rater(args, store)
        spans = _spans_for(store, args)
        changed = False
        for start, end in spans:
            changed |= curation.redact(store, args.turn, start, end, rater=rater, reason=reason).decisions
    where = ", ".join(f"{s}-{e}" for s, e in spans)
    return _done(changed, f"redacted characters {where} of turn {args.turn}: {reason.value}", rater)


def cmd_unredact(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        rater = _rater(args, store)
        changes = curation.unredact(store, args.turn, args.start, args.end, rater=rater)
    if not changes.decisions:
        print(f"nothing changed: {rater} has no redaction {args.start}-{args.end} on turn {args.turn}")
        return 0
    return _done(True, f"removed the redaction {args.start}-{args.end} from turn {args.turn}", rater)


def cmd_redactions(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        spans = curation.redacted_spans(store, args.turns)
        texts = {t: curation.turn_text(store, t) for t in {s.turn_id for s in spans}}
    for s in spans:
        # The span's own text is shown only here, inside the workspace, to whoever curates it.
        shown = "".join(ch if ch.isprintable() else " " for ch in texts[s.turn_id][s.start:s.end])
        if args.json:
            print(json.dumps({"turn_id": s.turn_id, "start": s.start, "end": s.end, "rater": s.rater,
                              "reason": s.reason, "text": texts[s.turn_id][s.start:s.end]}, ensure_ascii=False))
        else:
            print(f"turn {s.turn_id} {s.start}-{s.end} ({s.rater}, {s.reason}): {shown}")
    if not spans and not args.json:
        print("no redactions")
    return 0
