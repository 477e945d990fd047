"""Blinded A/B preference sessions: ``attune ab new|list|package|rate-package|merge|lock|report|export-preferences``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import print_table, store_from_args
from core.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ab", help="blinded A/B preference sessions: set up, rate, merge, lock, report")
    ab = p.add_subparsers(dest="ab_command", metavar="ACTION", required=True)

    new = ab.add_parser("new", help="set up a session over a dataset's test items; prints its id")
    new.add_argument("--dataset", required=True, metavar="D")
    new.add_argument("--systems", required=True, metavar="A,B[,C]",
                     help="two or more systems, e.g. base,tuned,therapist (therapist: the real reply)")
    new.add_argument("--items", type=int, metavar="N", help="a seeded random sample of N test items (default: all)")
    new.add_argument("--category", metavar="C", help="only test items of this category")
    new.add_argument("--seed", type=int, metavar="S", help="seed for sampling, pairs and sides (default: random, recorded)")
    new.add_argument("--raters", metavar="R1,R2", help="who rates (default: the current rater)")
    new.add_argument("--pairs", choices=("all", "balanced"), default="all",
                     help="all pairs of systems per item, or one pair per item with pairs used equally (default all)")
    new.add_argument("--repeat-share", type=float, default=0.0, metavar="F",
                     help="share of pairs shown again later with sides swapped, for consistency (e.g. 0.1)")
    new.add_argument("--leaks", choices=("refuse", "remove", "keep"), default="refuse",
                     help="replies that may reveal their system: refuse to start and list them (default), "
                     "remove those items, or keep them flagged")
    new.set_defaults(handler=cmd_new)

    ls = ab.add_parser("list", help="list the sessions")
    ls.set_defaults(handler=cmd_list)

    pk = ab.add_parser("package", help="write one rater's unrated items into a file for another machine")
    pk.add_argument("session", type=int, metavar="SESSION")
    pk.add_argument("--rater", required=True, metavar="NAME")
    pk.add_argument("--out", required=True, metavar="FILE")
    pk.set_defaults(handler=cmd_package)

    rp = ab.add_parser("rate-package", help="rate a package in the terminal: one of a, b, t, z, s per line on stdin")
    rp.add_argument("file", metavar="FILE")
    rp.set_defaults(handler=cmd_rate_package)

    mg = ab.add_parser("merge", help="bring a rated package's votes into its session (refuses duplicates)")
    mg.add_argument("file", metavar="FILE")
    mg.add_argument("--session", type=int, metavar="SESSION", help="refuse a package of any other session")
    mg.set_defaults(handler=cmd_merge)

    lk = ab.add_parser("lock", help="end voting; the session can then be unblinded")
    lk.add_argument("session", type=int, metavar="SESSION")
    lk.set_defaults(handler=cmd_lock)

    rep = ab.add_parser("report", help="statistics of a locked session (Markdown; --json; --out DIR for files)")
    rep.add_argument("session", type=int, metavar="SESSION")
    rep.add_argument("--json", action="store_true", help="print the JSON (with one row per vote)")
    rep.add_argument("--out", metavar="DIR", help="also write report.md, report.csv, report.json, votes.csv into DIR")
    rep.set_defaults(handler=cmd_report)

    ex = ab.add_parser("export-preferences",
                       help="decisive votes as OpenAI preference and TRL DPO files, with a card")
    ex.add_argument("session", type=int, metavar="SESSION")
    ex.add_argument("--out", required=True, metavar="DIR")
    ex.set_defaults(handler=cmd_export_preferences)


def _names(value: str, what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise UsageError(f"{what}: give comma-separated names")
    return names


def cmd_new(args: argparse.Namespace) -> int:
    from core import curation
    from core.preference import sessions

    with store_from_args(args) as store:
        raters = (tuple(curation.check_rater(r) for r in _names(args.raters, "--raters")) if args.raters
                  else (curation.default_rater(store),))
        spec = sessions.SessionSpec(
            dataset=args.dataset, systems=_names(args.systems, "--systems"), raters=raters, items=args.items,
            category=args.category, seed=args.seed, pairing=args.pairs, repeat_share=args.repeat_share,
            leaks=args.leaks,
        )
        try:
            report = sessions.create_session(store, spec).value
        except sessions.LeaksFound as exc:
            for f in exc.findings:
                print(f"{f.example_id} {f.system}: {f.what}: …{f.excerpt}…", file=sys.stderr)
            raise
    print(report.session_id)
    err = sys.stderr
    print(f"A/B session {report.session_id}: {report.items} items, {report.pairs_per_rater} pairs per rater "
          f"({', '.join(raters)}), seed {report.seed}", file=err)
    if report.dropped_missing:
        print(f"  {report.dropped_missing} items left out: a system had no usable reply", file=err)
    if report.leak_items_removed:
        print(f"  {report.leak_items_removed} items removed for identity leaks", file=err)
    if report.leak_items_flagged:
        print(f"  {report.leak_items_flagged} items kept with an identity-leak flag:", file=err)
        for f in report.leaks:
            print(f"    {f.example_id} {f.system}: {f.what}: …{f.excerpt}…", file=err)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from core.preference import sessions

    with store_from_args(args) as store:
        rows = [
            (x.session.id, x.session.dataset_name, ",".join(x.session.systems), ",".join(x.session.raters),
             f"{x.votes} / {x.assignments}", x.session.state, x.session.created_at)
            for x in sessions.session_summaries(store)
        ]
    print_table(["ID", "DATASET", "SYSTEMS", "RATERS", "VOTES", "STATE", "CREATED"], rows)
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    from core.preference import packages

    with store_from_args(args) as store:
        n = packages.write_package(store, args.session, args.rater, Path(args.out))
    print(f"wrote {args.out}: {n} items for {args.rater} (session {args.session})")
    return 0


def cmd_rate_package(args: argparse.Namespace) -> int:
    from core.preference import packages

    voted, left = packages.rate_in_terminal(Path(args.file), sys.stdin, lambda text: print(text, flush=True))
    print(f"{voted} votes recorded in {args.file}; {left} items left unrated")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from core.preference import packages

    with store_from_args(args) as store:
        report = packages.merge_package(store, Path(args.file), args.session).value
    print(f"merged {report.merged} votes of {report.rater} into session {report.session_id}"
          + (f"; {report.unrated} items in the package were not rated" if report.unrated else ""))
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    from core.preference import sessions

    with store_from_args(args) as store:
        s = sessions.lock(store, args.session)
    print(f"session {s.id} locked at {s.locked_at}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from core.preference import analysis, export

    with store_from_args(args) as store:
        rep = export.write_report(store, args.session, Path(args.out)) if args.out \
            else analysis.report(store, args.session)
    if args.json:
        print(json.dumps(rep, indent=2, ensure_ascii=False))
    else:
        print(analysis.markdown(rep))
    return 0


def cmd_export_preferences(args: argparse.Namespace) -> int:
    from core.preference import export

    with store_from_args(args) as store:
        s = export.export_preferences(store, args.session, Path(args.out))
    print(f"wrote {s.pairs} preference pairs to {args.out} ({s.dropped_split} split pairs, "
          f"{s.ties} ties, {s.both_bad} both-bad and {s.skips} skipped votes left out)")
    return 0
