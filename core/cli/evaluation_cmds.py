"""Evaluation subcommands: responses import, systems, evaluate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import print_table, store_from_args, terminal_progress
from core.errors import UsageError
from core.evaluation import report
from core.evaluation.evaluate import SENTIMENT_NOTE, evaluate, parse_systems
from core.evaluation.responses import ResponsesRejected, import_responses
from core.evaluation.stats import RESAMPLES
from core.evaluation.systems import THERAPIST, SystemKind, list_systems
from core.store.responses import delete_system


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
        choices=[k.value for k in SystemKind if k != SystemKind.THERAPIST],
        default=SystemKind.IMPORTED.value,
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
    p.set_defaults(handler=cmd_evaluate)


def cmd_responses_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    with store_from_args(args) as store:
        try:
            result = import_responses(
                store, args.system, path, replace=args.replace, kind=args.kind,
                state=terminal_progress("scoring replies"),
            )
        except ResponsesRejected as exc:
            for line in exc.problems:
                print(line, file=sys.stderr)
            n = len(exc.problems)
            print(f"{n} problem{'s' if n != 1 else ''}; nothing was imported", file=sys.stderr)
            return 1
    for line in result.value.lines():
        print(line)
    return 0


def cmd_responses_delete(args: argparse.Namespace) -> int:
    if args.system == THERAPIST:
        raise UsageError(f"{THERAPIST!r} is built in: its replies are the dataset references")
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
            ", ".join(s.datasets) if not s.builtin else "(every dataset's references)",
        ))
    print_table(["SYSTEM", "KIND", "REPLIES", "EMPTY/BLOCKED", "DATASETS"], rows)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    systems = parse_systems(args.systems)
    if args.resamples < 1:
        raise UsageError("--resamples must be at least 1")
    with store_from_args(args) as store:
        result = evaluate(
            store, args.dataset, systems, seed=args.seed, resamples=args.resamples,
            state=terminal_progress("evaluating"),
        )
    to_stdout = args.json == "-"
    out = sys.stderr if to_stdout else sys.stdout
    # Files first: a reader that closes the pipe early (`| head`) must not cost the report.
    written: list[Path] = []
    if args.json and not to_stdout:
        report.write_atomic(Path(args.json), report.to_json_text(result))
        written.append(Path(args.json))
    if args.report:
        written.extend(report.write_report(result, Path(args.report)))
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
