"""Workspace subcommands: init, import, transcripts, stats, dump, set-category."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cli.common import print_table, store_from_args, terminal_progress
from core import transcripts as transcript_store
from core.errors import UsageError
from core.ids import TranscriptId
from core.models import Category
from core.text_safety import one_line
from core.workspace import DB_FILENAME, workspace_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create a new, empty workspace (other commands never create one)")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("import", help="import transcript files or folders (recursively)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=_Formats(), metavar="FORMAT",
                   help="skip sniffing, force a format: %(choices)s")
    p.add_argument("--category", help="set this symptom category on every imported transcript")
    p.add_argument(
        "--speaker-map",
        metavar="FILE",
        help="JSON object of extra speaker labels → role, e.g. {\"DR. LEE\": \"therapist\"}",
    )
    p.add_argument(
        "--csv-map",
        metavar="MAP.json",
        help="how to read CSVs that are not AnnoMI: which column is the session, speaker, text "
        "(or client and therapist text), and which to keep as metadata; see docs/importing.md",
    )
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("transcripts", help="list the workspace's transcripts")
    p.add_argument("--json", action="store_true", help="one JSON object per line, with its source metadata")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="only transcripts whose source metadata has KEY=VALUE (repeat to narrow)")
    p.set_defaults(handler=cmd_transcripts)
    tsub = p.add_subparsers(dest="transcripts_command", metavar="ACTION")
    d = tsub.add_parser(
        "delete", help="delete transcripts with their turns and every decision on them",
        description="Delete transcripts, their turns and every rater's decisions on them. Refused while a "
        "dataset uses them, unless --with-datasets deletes those datasets too (and replies only they held).",
    )
    d.add_argument("ids", nargs="+", type=int, metavar="ID")
    d.add_argument("--with-datasets", action="store_true",
                   help="also delete the datasets built from these transcripts")
    d.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    d.set_defaults(handler=cmd_transcripts_delete)

    p = sub.add_parser("stats", help="counts and the therapist-turn length distribution")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_stats)

    p = sub.add_parser("dump", help="every transcript as one JSON line")
    p.set_defaults(handler=cmd_dump)

    p = sub.add_parser(
        "set-category",
        usage="attune set-category [--where KEY=VALUE] [--rater NAME] [TRANSCRIPT ...] CATEGORY",
        help="set the symptom category of transcripts, by id or by source metadata",
        description="Set the category of the transcripts given by id, or of every transcript "
        "whose source metadata matches --where KEY=VALUE (see `attune metadata`), as one "
        "logged, undoable step: attune set-category 3 4 5 Anxiety; attune set-category "
        "--where topic=\"reducing alcohol consumption\" Other",
    )
    p.add_argument("targets", nargs="+", metavar="TRANSCRIPT/CATEGORY",
                   help="transcript ids, then one of: " + ", ".join(c.value for c in Category))
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="every transcript whose source metadata has KEY=VALUE (repeat to narrow)")
    p.add_argument("--rater", metavar="NAME", help="who makes the change (default: the current rater)")
    p.set_defaults(handler=cmd_set_category)


class _Formats(Sequence[str]):
    """The importers' format names, read when argparse checks or shows them.

    Loading the importers costs ~25 ms; registering this parser happens for
    every command of this module (``stats`` among them), running ``import``
    only for itself.
    """

    def _names(self) -> list[str]:
        from core.importers import FORMATS

        return sorted(FORMATS)

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, value: object) -> bool:
        return value in self._names()


def _category(text: str | None) -> Category | None:
    if text is None:
        return None
    try:
        return Category.parse(text)
    except ValueError as exc:
        raise UsageError(f"--category: {exc}") from exc


def parse_where(items: list[str]) -> dict[str, str]:
    """``["topic=smoking cessation", "mi_quality=high"]`` → {key: value}."""
    where: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--where: expected KEY=VALUE, got {item!r}")
        where[key.strip()] = value.strip()
    return where


def cmd_init(args: argparse.Namespace) -> int:
    folder = workspace_dir(args.home)
    existed = (folder / DB_FILENAME).exists()
    with store_from_args(args, create=True) as store:
        print(f"{store.path}: {'already a workspace' if existed else 'new workspace created'}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from core.importers import ImportOptions
    from core.importers.csv_mapped import load_csv_mapping
    from core.importers.speaker_map import load_speaker_map
    from core.importing import import_paths

    options = ImportOptions(category=_category(args.category))
    if args.speaker_map:
        options.speaker_map.update(load_speaker_map(Path(args.speaker_map)))
    if args.csv_map:
        options.csv_map = load_csv_mapping(Path(args.csv_map))
    missing = [p for p in args.paths if not Path(p).exists()]
    for p in missing:
        print(one_line(f"{p}: no such file or folder"), file=sys.stderr)
    present = [p for p in args.paths if Path(p).exists()]
    with store_from_args(args, create=True) as store:
        report = import_paths(
            store, present, format=args.format, options=options, state=terminal_progress("importing")
        )
    for result in report.files:
        stream = sys.stderr if result.status == "failed" else sys.stdout
        print(one_line(result.line()), file=stream)  # a newline in a file name stays one line
    if report.skipped:  # dot-files and symlinked folders left out of a walk, said out loud
        print(f"{report.skipped_line()} ({', '.join(path for path, _ in report.skipped[:3])}"
              f"{', …' if len(report.skipped) > 3 else ''})")
    total = report.imported_transcripts
    print(f"{total} transcript{'s' if total != 1 else ''} imported, {len(report.failed) + len(missing)} failed")
    return 1 if (report.failed or missing) else 0


def cmd_transcripts(args: argparse.Namespace) -> int:
    where = parse_where(args.where)
    with store_from_args(args) as store:
        rows = transcript_store.list_transcripts(store)
        if where:
            wanted = set(transcript_store.transcript_ids_where(store, where))
            rows = [t for t in rows if t.id in wanted]
    if args.json:
        for t in rows:
            print(json.dumps({"id": t.id, "title": t.title, "category": t.category.value,
                              "turns": t.turn_count, "format": t.format, "client": t.client_key,
                              "client_names": list(t.client_names), "source": t.source_path,
                              "metadata": t.metadata},
                             ensure_ascii=False))
        return 0
    print_table(
        ["ID", "TITLE", "CATEGORY", "TURNS", "FORMAT", "CLIENT"],
        [(t.id, t.title[:60], t.category.value, t.turn_count, t.format, t.client_key or "") for t in rows],
    )
    return 0


def cmd_transcripts_delete(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        if args.dry_run:
            impact = transcript_store.deletion_impact(store, args.ids)
        else:
            impact = transcript_store.delete_transcripts(store, args.ids, with_datasets=args.with_datasets)
    verb = "would delete" if args.dry_run else "deleted"
    n = len(impact.transcripts)
    print(f"{verb} {n} transcript{'s' if n != 1 else ''} ({impact.turns} turns) and "
          f"{impact.decisions} decision{'s' if impact.decisions != 1 else ''} on them")
    for name, examples in impact.datasets:
        print(f"{verb} dataset {name!r} ({examples} examples from these transcripts)")
    if impact.replies:
        print(f"{verb} {impact.replies} imported replies to those datasets' test items")
    if args.dry_run and impact.datasets and not args.with_datasets:
        print("datasets use these transcripts: the delete needs --with-datasets")
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
    *raw_ids, raw_category = args.targets
    try:
        category = Category.parse(raw_category)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    ids: list[TranscriptId] = []
    for raw in raw_ids:
        try:
            ids.append(TranscriptId(int(raw)))
        except ValueError:
            raise UsageError(f"{raw!r} is not a transcript id (ids first, then the category)") from None
    where = parse_where(args.where)
    if bool(ids) == bool(where):
        raise UsageError("give transcript ids or --where KEY=VALUE (not both), then the category")
    from core import curation

    with store_from_args(args) as store:
        # Through curation so the change is logged (audit trail) and undoable, as one step.
        rater = curation.check_rater(args.rater) if args.rater else curation.default_rater(store)
        if where:
            ids = curation.set_category_where(store, where, category, rater=rater).value
        else:
            curation.set_category(store, ids, category, rater=rater)
    if len(ids) == 1:
        print(f"transcript {ids[0]}: category set to {category.value}")
    else:
        print(f"{len(ids)} transcripts: category set to {category.value}")
    return 0
