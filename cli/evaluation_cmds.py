"""Evaluation subcommands: responses import, systems, evaluate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import print_table, store_from_args, terminal_progress
from core.errors import OutputFailed, UsageError
from core.evaluation.evaluate import MIN_ITEMS, SENTIMENT_NOTE, evaluate, missing_reply_lines, parse_systems
from core.evaluation.stats import RESAMPLES
from core.evaluation.sources import stored_kinds
from core.evaluation.systems import delete_system, list_systems


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("responses", help="replies of a system to test items")
    rsub = p.add_subparsers(dest="responses_command", metavar="ACTION", required=True)
    imp = rsub.add_parser(
        "import",
        help='import a JSONL file of {"example_id", "response"} lines as a system\'s replies',
    )
    imp.add_argument("--system", required=True, metavar="NAME", help="system to import into (created if new)")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument(
        "--replace", action="store_true", help="overwrite replies the system already has for these items"
    )
    imp.add_argument(
        "--kind",
        choices=stored_kinds(),
        default="imported",
        help="what the system is, when it is created (default: imported)",
    )
    imp.set_defaults(handler=cmd_responses_import)
    rm = rsub.add_parser("delete", help="delete a system and all its replies (transcripts are untouched)")
    rm.add_argument("--system", required=True, metavar="NAME")
    rm.set_defaults(handler=cmd_responses_delete)

    p = sub.add_parser("systems", help="list systems and their reply counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_systems)

    p = sub.add_parser("evaluate", help="the paper's metrics per category for the named systems")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--systems", required=True, metavar="A,B", help="comma-separated, e.g. base,tuned")
    p.add_argument("--json", metavar="OUT", help="write the results JSON (docs/evaluation.md) here ('-': stdout)")
    p.add_argument("--report", metavar="DIR", help="write JSON, Markdown, CSV and HTML reports into DIR")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--resamples", type=int, default=RESAMPLES, help=f"bootstrap resamples (default {RESAMPLES})")
    p.add_argument("--allow-missing", action="store_true",
                   help="evaluate even when a system has no reply for some test items (they count as missing)")
    p.add_argument("--min-items", type=int, default=None, metavar="N",
                   help=f"tables with fewer test items get no intervals or p-values (default {MIN_ITEMS})")
    p.set_defaults(handler=cmd_evaluate)


def cmd_responses_import(args: argparse.Namespace) -> int:
    from core.evaluation.responses import import_responses

    path = Path(args.file)
    if not path.exists():  # a FIFO or device exists: read_bounded says what it is instead
        raise UsageError(f"{path}: no such file")
    with store_from_args(args) as store:
        # ResponsesRejected reaches main(): one line naming the first problem and the count.
        result = import_responses(
            store, args.system, path, replace=args.replace, kind=args.kind,
            state=terminal_progress("scoring replies"),
        )
    for line in result.value.lines():
        print(line)
    return 0


def cmd_responses_delete(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        n = delete_system(store, args.system)
    print(f"deleted system {args.system!r} and its {n} repl{'y' if n == 1 else 'ies'}")
    return 0


def cmd_systems(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        systems = list_systems(store)
    if args.json:
        for s in systems:
            print(json.dumps({"name": s.name, "kind": s.kind, "replies": s.replies, "by_state": s.by_state,
                              "datasets": list(s.datasets), "builtin": s.builtin}, ensure_ascii=False))
        return 0
    rows = []
    for s in systems:
        missing = sum(n for state, n in s.by_state.items() if state != "ok")
        rows.append((
            s.name,
            s.kind,
            s.replies,
            missing if not s.builtin else "",
            ", ".join(s.datasets) if not s.builtin else f"(every dataset: {s.provenance.get('source', s.kind)})",
        ))
    print_table(["SYSTEM", "KIND", "REPLIES", "EMPTY/BLOCKED", "DATASETS"], rows)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.evaluation import report  # the report writers, only when evaluating

    systems = parse_systems(args.systems)
    if args.resamples < 1:
        raise UsageError("--resamples must be at least 1")
    if args.min_items is not None and args.min_items < 1:
        raise UsageError("--min-items must be at least 1")
    with store_from_args(args) as store:
        result = evaluate(
            store, args.dataset, systems, seed=args.seed, resamples=args.resamples,
            state=terminal_progress("evaluating"), min_items=args.min_items,
        )
    # Replies imported for another build's ids, or a half-finished generation,
    # would otherwise print a table of dashes and "succeed".
    lacking = missing_reply_lines(result)
    for line in lacking:
        print(line, file=sys.stderr)
    if lacking and not args.allow_missing:
        raise UsageError(f"{len(lacking)} system(s) lack replies (above); nothing was written. "
                         "Import the missing replies, or pass --allow-missing to count them as missing")
    to_stdout = args.json == "-"
    out = sys.stderr if to_stdout else sys.stdout
    # Files first: a reader that closes the pipe early (`| head`) must not cost the report.
    written: list[Path] = []
    target = Path(args.json) if args.json and not to_stdout else None
    try:
        if target is not None:
            report.write_atomic(target, report.to_json_text(result))
            written.append(target)
        if args.report:
            target = Path(args.report)
            written.extend(report.write_report(result, target))
    except OSError as exc:  # a bad --json/--report path is one line, not a traceback
        raise OutputFailed(target or "report", exc.strerror or type(exc).__name__) from None
    for name, block in report.blocks(result):
        print(f"{name} (n = {block.n})", file=out)
        print_table(report.headers(result), report.table_rows(result, block), out=out)
        for line in report.paired_lines(result, block):
            print(f"  {line}", file=out)
        print(file=out)
    print(f"Note: {SENTIMENT_NOTE}", file=out)
    if to_stdout:
        sys.stdout.write(report.to_json_text(result))
    for path in written:
        print(f"wrote {path}", file=out)
    return 0
