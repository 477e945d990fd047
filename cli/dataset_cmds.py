"""Dataset subcommands: build, list, show, export, delete."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import print_table, store_from_args, terminal_progress
from core.bounded_read import read_small_text
from core.datasets import DatasetRules, ExportResult, build_dataset, catalog, export_dataset
from core.datasets.card import removal_label, removal_order
from core.datasets.rules import DEFAULT_SYSTEM_INSTRUCTION, format_split, parse_split
from core.errors import InputRefused, UsageError
from core.models import SPLITS, DatasetRecord

DEFAULTS = DatasetRules()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="build, inspect and export fine-tuning datasets")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    b = dsub.add_parser("build", help="build a dataset from the curated transcripts")
    b.add_argument("name", metavar="NAME")
    b.add_argument("--min-words", type=int, default=DEFAULTS.min_words, metavar="N",
                   help=f"a target is a therapist turn of at least this many words (default {DEFAULTS.min_words})")
    b.add_argument("--context-turns", type=int, default=DEFAULTS.context_turns, metavar="K",
                   help=f"at most this many turns of context (default {DEFAULTS.context_turns})")
    b.add_argument("--context-chars", type=int, default=DEFAULTS.context_chars, metavar="N",
                   help=f"at most this many characters of context (default {DEFAULTS.context_chars})")
    b.add_argument("--min-rating", type=float, default=DEFAULTS.min_rating, metavar="R",
                   help=f"leave out targets rated below R (1-5; default {DEFAULTS.min_rating:g}: turns rated "
                        "1 or 2 are left out); unrated targets are kept")
    b.add_argument("--any-rating", action="store_true", help="keep rated targets whatever their rating")
    b.add_argument("--include-demo", action="store_true",
                   help="include demonstration transcripts (left out by default)")
    b.add_argument("--session-rule", action="append", default=None, metavar="'KEY OP VALUE'",
                   help="a condition on source metadata every session must meet, OP one of = != >= <= > < "
                        "(repeat for more; replaces the default "
                        f"{', '.join(repr(r) for r in DEFAULTS.session_rules)})")
    b.add_argument("--no-session-rules", action="store_true",
                   help="no session rule at all (AnnoMI's low-quality sessions are then included)")
    b.add_argument("--reviewed-only", action="store_true",
                   help="only targets a rater included (default: unreviewed targets count too)")
    b.add_argument("--seed", type=int, default=DEFAULTS.seed, metavar="S", help="split and order seed (default 0)")
    b.add_argument("--split", default=format_split(DEFAULTS.split), metavar="TRAIN/VAL/TEST",
                   help="percentages (default 80/10/10)")
    b.add_argument("--freeze-test", action="store_true",
                   help="freeze this dataset's test split: later datasets reuse it")
    b.add_argument("--over-limit", choices=["drop", "flag"], default=DEFAULTS.over_limit,
                   help="what to do with examples over the tuning token limit (default drop)")
    b.add_argument("--vertex-form", choices=["transcript", "multi-turn"], default="transcript",
                   help="Vertex AI files: the context as one labelled transcript so only the target is "
                   "trained on (default), or plain multi-turn contents (every therapist turn is trained on)")
    b.add_argument("--out", metavar="DIR",
                   help="also export it to DIR (as `dataset export --out DIR NAME` would, from the files the "
                        "build just rendered)")
    si = b.add_mutually_exclusive_group()
    si.add_argument("--system-instruction", metavar="TEXT", help="system instruction stored with the dataset")
    si.add_argument("--system-instruction-file", metavar="FILE", help="read the system instruction from FILE")
    b.set_defaults(handler=cmd_build)

    ls = dsub.add_parser("list", help="the workspace's datasets")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(handler=cmd_list)

    sh = dsub.add_parser("show", help="a dataset's rules, counts, hashes and warnings")
    sh.add_argument("name", metavar="NAME")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(handler=cmd_show)

    ex = dsub.add_parser("export", help="write a dataset's files (Vertex, OpenAI, Hugging Face, card)")
    ex.add_argument("name", metavar="NAME")
    ex.add_argument("--out", required=True, metavar="DIR", help="folder to write (created if missing)")
    ex.set_defaults(handler=cmd_export)

    rm = dsub.add_parser("delete", help="delete a stored dataset (the transcripts are untouched)")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=cmd_delete)


def _system_instruction(args: argparse.Namespace) -> str:
    if args.system_instruction_file:
        path = Path(args.system_instruction_file)
        try:  # bounded: a FIFO or /dev/zero is one line, not a hang
            return read_small_text(path).strip()
        except InputRefused as exc:
            raise UsageError(f"{path}: cannot read the system instruction ({exc.reason})") from None
    if args.system_instruction is not None:
        return args.system_instruction
    return DEFAULT_SYSTEM_INSTRUCTION


def rules_from_args(args: argparse.Namespace) -> DatasetRules:
    return DatasetRules(
        min_words=args.min_words,
        context_turns=args.context_turns,
        context_chars=args.context_chars,
        min_rating=None if args.any_rating else args.min_rating,
        reviewed_only=args.reviewed_only,
        seed=args.seed,
        split=parse_split(args.split),
        system_instruction=_system_instruction(args),
        freeze_test=args.freeze_test,
        over_limit=args.over_limit,
        include_demo=args.include_demo,
        session_rules=_session_rules(args),
        vertex_form=args.vertex_form.replace("-", "_"),
    ).validate()


def _session_rules(args: argparse.Namespace) -> tuple[str, ...]:
    if args.no_session_rules:
        if args.session_rule:
            raise UsageError("--no-session-rules and --session-rule cannot be combined")
        return ()
    return tuple(args.session_rule) if args.session_rule is not None else DEFAULTS.session_rules


def cmd_build(args: argparse.Namespace) -> int:
    rules = rules_from_args(args)
    with store_from_args(args) as store:
        record = build_dataset(store, args.name, rules, state=terminal_progress("building"))
        _print_summary(record)
        if args.out is not None:
            _print_export(export_dataset(store, record.name, Path(args.out), state=terminal_progress("exporting")))
    return 0


def _print_summary(record: DatasetRecord) -> None:
    c = record.counts
    splits = c.get("splits", {})
    print(f"dataset {record.name}: " + ", ".join(f"{splits.get(s, 0)} {s}" for s in SPLITS))
    print(f"leakage check passed; content hash {record.content_hash}")
    if c.get("test_from_name"):
        print(f"test split reused from the frozen dataset {c['test_from_name']}")
    if record.test_frozen:
        print("test split frozen: later datasets reuse it")
    print(f"targets still unreviewed: {c.get('unreviewed_targets', 0)}")
    rules = DatasetRules.from_dict(record.rules)
    print(f"default-off material: minimum rating {rules.min_rating if rules.min_rating is not None else 'none'}; "
          f"demo transcripts {'included' if rules.include_demo else 'left out'}; session rules: "
          f"{', '.join(repr(r) for r in rules.session_rules) or 'none'}")
    removed = {k: v for k, v in c.get("removed", {}).items() if v}
    if removed:
        print("left out: " + "; ".join(f"{removal_label(k)} {removed[k]}" for k in removal_order(removed)))
    for w in c.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        records = catalog.list_datasets(store)
    if args.json:
        for r in records:
            print(json.dumps({"name": r.name, "created_at": r.created_at, "splits": r.counts.get("splits", {}),
                              "seed": r.seed, "content_hash": r.content_hash, "test_frozen": r.test_frozen,
                              "test_from": r.counts.get("test_from_name")}, ensure_ascii=False))
        return 0
    rows = []
    for r in records:
        s = r.counts.get("splits", {})
        frozen = "frozen" if r.test_frozen else ("from " + r.counts["test_from_name"] if r.counts.get("test_from_name") else "")
        rows.append([r.name, s.get("train", 0), s.get("validation", 0), s.get("test", 0), frozen,
                     r.created_at, r.content_hash[:12]])
    print_table(["NAME", "TRAIN", "VALIDATION", "TEST", "TEST SPLIT", "CREATED", "HASH"], rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        r = catalog.get_dataset(store, args.name)
        kept = catalog.kept_files(store, r)
    if args.json:
        print(json.dumps({"name": r.name, "created_at": r.created_at, "rules": r.rules, "seed": r.seed,
                          "counts": r.counts, "content_hash": r.content_hash,
                          "system_instruction": r.system_instruction, "test_frozen": r.test_frozen},
                         indent=2, ensure_ascii=False, sort_keys=True))
        return 0
    c = r.counts
    print(f"dataset      {r.name}")
    print(f"created      {r.created_at}")
    print(f"content hash {r.content_hash}")
    test_line = "frozen (reused by later datasets)" if r.test_frozen else "not frozen"
    if c.get("test_from_name"):
        test_line += f"; reused from {c['test_from_name']}"
    print(f"test split   {test_line}")
    print(f"kept files   {kept} (rendered at build; an export copies them while they are current)" if kept
          else "kept files   none (an export renders the files)")
    print("rules:")
    for key in sorted(r.rules):
        if key != "system_instruction":
            print(f"  {key:<16} {r.rules[key]}")
    print(f"  system_instruction {r.system_instruction!r}")
    print("examples per category:")
    rows = []
    for cat in sorted(c.get("by_category", {})):
        per = c["by_category"][cat]
        rows.append([cat, *(per.get(s, 0) for s in SPLITS)])
    splits = c.get("splits", {})
    rows.append(["all", *(splits.get(s, 0) for s in SPLITS)])
    print_table(["CATEGORY", *(s.upper() for s in SPLITS)], rows)
    print(f"therapist turns of {r.rules.get('min_words')}+ words: {c.get('candidates', 0)}; "
          f"targets unreviewed: {c.get('unreviewed_targets', 0)}")
    removed = {k: v for k, v in c.get("removed", {}).items() if v}
    if removed:
        print("left out:")
        for key in removal_order(removed):
            print(f"  {removal_label(key)}: {removed[key]}")
    cuts = c.get("context_cuts", {})
    shortened, dropped = cuts.get("shortened", {}), cuts.get("dropped", {})
    if shortened or dropped:
        print("contexts cut at an excluded turn (exclusion reason: shortened, dropped):")
        for reason in sorted(set(shortened) | set(dropped)):
            print(f"  {reason or '(unknown)'}: {shortened.get(reason, 0)}, {dropped.get(reason, 0)}")
    if c.get("redacted_examples"):
        print(f"examples with a redacted span: {c['redacted_examples']}")
    for w in c.get("warnings", []):
        print(f"warning: {w}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        result = export_dataset(store, args.name, Path(args.out), state=terminal_progress("exporting"))
    _print_export(result)
    return 0


def _print_export(result: ExportResult) -> None:
    for name, size in result.files.items():
        print(f"{result.folder / name}  {size} bytes")
    print(f"content hash {result.content_hash} (matches the stored dataset)")


def cmd_delete(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        catalog.delete_dataset(store, args.name)
    print(f"dataset {args.name} deleted")
    return 0
