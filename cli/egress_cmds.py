"""``attune egress-log``, and the confirmation every command that sends text off the machine asks for."""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import print_table, store_from_args
from core import egress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("egress-log", help="what transcript text left this machine, when, and where")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the newest N entries")
    p.set_defaults(handler=cmd_egress_log)


def cmd_egress_log(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        entries = egress.log_entries(store, args.limit)
    if args.json:
        for e in entries:
            print(json.dumps({"id": e.id, "at": e.at, "kind": e.kind, "destination": e.destination, "what": e.what,
                              "content_hash": e.content_hash, "bytes": e.bytes, "examples": e.examples,
                              "detail": e.detail}, ensure_ascii=False, sort_keys=True))
        return 0
    if not entries:
        print("nothing has left this machine")
        return 0
    print_table(
        ["ID", "AT", "KIND", "EXAMPLES", "BYTES", "DESTINATION", "WHAT", "SHA256"],
        [(e.id, e.at, e.kind, e.examples, e.bytes, e.destination, e.what, e.content_hash[:16]) for e in entries],
    )
    return 0


def add_confirm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true",
                   help="send without asking (the summary is still printed and the send logged)")
    p.add_argument("--show-hits", action="store_true", help="list every identifier the scan found")


def confirm(manifest: egress.Manifest, args: argparse.Namespace) -> egress.Approval:
    """Print what would be sent; ``--yes`` or a typed "yes" on a terminal approves it."""
    hits = len(manifest.hits) if getattr(args, "show_hits", False) else 10
    for line in manifest.describe(hits=hits):
        print(line, file=sys.stderr)
    if getattr(args, "yes", False):
        return egress.confirm(manifest, yes=True)
    if not sys.stdin.isatty():
        return egress.confirm(manifest)  # refuses: nobody to ask

    def ask(_: egress.Manifest) -> bool:
        print("Send this off the machine? Type yes to send: ", end="", file=sys.stderr, flush=True)
        return sys.stdin.readline().strip().lower() == "yes"

    return egress.confirm(manifest, ask=ask, via="prompt")
