"""Workspace subcommands: import, transcripts, stats, dump, set-category."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core import curation
from core.cli.common import print_table, store_from_args, terminal_progress
from core.errors import UsageError
from core.ids import TranscriptId
from core.importers import FORMATS, ImportOptions
from core.importing import import_paths
from core.models import Category
from core.speaker_map import load_speaker_map
from core.store import transcripts as transcript_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import transcript files or folders (recursively)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=sorted(FORMATS) or None, help="skip sniffing, force a format")
    p.add_argument("--category", help="set this symptom category on every imported transcript")
    p.add_argument(
        "--speaker-map",
        metavar="FILE",
        help="JSON object of extra speaker labels → role, e.g. {\"DR. LEE\": \"therapist\"}",
    )
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("transcripts", help="list the workspace's transcripts")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_transcripts)

    p = sub.add_parser("stats", help="counts and the therapist-turn length distribution")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_stats)

    p = sub.add_parser("dump", help="every transcript as one JSON line")
    p.set_defaults(handler=cmd_dump)

    p = sub.add_parser("set-category", help="set a transcript's symptom category")
    p.add_argument("transcript", type=int, metavar="TRANSCRIPT")
    p.add_argument("category", metavar="CATEGORY", help=", ".join(c.value for c in Category))
    p.add_argument("--rater", metavar="NAME", help="who makes the change (default: the current rater)")
    p.set_defaults(handler=cmd_set_category)


def _category(text: str | None) -> Category | None:
    if text is None:
        return None
    try:
        return Category.parse(text)
    except ValueError as exc:
        raise UsageError(f"--category: {exc}") from exc


def cmd_import(args: argparse.Namespace) -> int:
    options = ImportOptions(category=_category(args.category))
    if args.speaker_map:
        options.speaker_map.update(load_speaker_map(Path(args.speaker_map)))
    missing = [p for p in args.paths if not Path(p).exists()]
    for p in missing:
        print(f"{p}: no such file or folder", file=sys.stderr)
    present = [p for p in args.paths if Path(p).exists()]
    with store_from_args(args) as store:
        report = import_paths(
            store, present, format=args.format, options=options, state=terminal_progress("importing")
        )
    for result in report.files:
        stream = sys.stderr if result.status == "failed" else sys.stdout
        print(result.line(), file=stream)
    total = report.imported_transcripts
    print(f"{total} transcript{'s' if total != 1 else ''} imported, {len(report.failed) + len(missing)} failed")
    return 1 if (report.failed or missing) else 0


def cmd_transcripts(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        rows = transcript_store.list_transcripts(store)
    if args.json:
        for t in rows:
            print(json.dumps({"id": t.id, "title": t.title, "category": t.category.value,
                              "turns": t.turn_count, "format": t.format, "client": t.client_key,
                              "client_names": list(t.client_names), "source": t.source_path},
                             ensure_ascii=False))
        return 0
    print_table(
        ["ID", "TITLE", "CATEGORY", "TURNS", "FORMAT", "CLIENT"],
        [(t.id, t.title[:60], t.category.value, t.turn_count, t.format, t.client_key or "") for t in rows],
    )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        s = transcript_store.stats(store)
    if args.json:
        print(json.dumps({
            "transcripts": s.transcripts, "turns": s.turns, "therapist_turns": s.therapist_turns,
            "client_turns": s.client_turns, "therapist_under_8_words": s.therapist_under_8,
            "therapist_under_8_share": round(s.under_8_share, 4),
            "therapist_50_plus_words": s.therapist_50_plus, "by_category": s.by_category,
            "therapist_length_buckets": dict(s.therapist_length_buckets),
        }, indent=2))
        return 0
    print(f"transcripts          {s.transcripts}")
    print(f"turns                {s.turns} ({s.therapist_turns} therapist, {s.client_turns} client)")
    print(f"therapist < 8 words  {s.therapist_under_8} ({s.under_8_share:.1%} of therapist turns)")
    print(f"therapist 50+ words  {s.therapist_50_plus} (training targets under the paper's rule)")
    print("therapist turn length (words):")
    biggest = max((n for _, n in s.therapist_length_buckets), default=0) or 1
    for label, n in s.therapist_length_buckets:
        print(f"  {label:>7}  {n:>8}  {'#' * round(40 * n / biggest)}")
    print("by category:")
    for cat, n in s.by_category.items():
        print(f"  {cat:<12} {n}")
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        out = sys.stdout
        for item in transcript_store.iter_dump(store):
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    return 0


def cmd_set_category(args: argparse.Namespace) -> int:
    try:
        category = Category.parse(args.category)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    with store_from_args(args) as store:
        # Through curation so the change is logged (audit trail) and undoable.
        rater = curation.check_rater(args.rater) if args.rater else curation.default_rater(store)
        curation.set_category(store, [TranscriptId(args.transcript)], category, rater=rater)
    print(f"transcript {args.transcript}: category set to {category.value}")
    return 0
