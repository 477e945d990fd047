"""Backup subcommands: backups (list, or take one now), restore."""

from __future__ import annotations

import argparse
from datetime import datetime

from cli.common import print_table, store_from_args
from core.store import backups
from core.store import workspace_holder
from core.workspace import BACKUP_DIRNAME, DB_FILENAME, workspace_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backups", help="list the workspace's backups, newest first (or take one now)")
    p.add_argument("--now", action="store_true", help="take a backup now (SQLite online backup)")
    p.set_defaults(handler=cmd_backups)

    p = sub.add_parser(
        "restore",
        help="replace the workspace with a backup (copied, verified, then swapped in; the current one is kept)",
    )
    p.add_argument("backup", metavar="BACKUP", help="a name from `attune backups`, or a path")
    p.set_defaults(handler=cmd_restore)


def _when(taken: datetime) -> str:
    return taken.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def cmd_backups(args: argparse.Namespace) -> int:
    folder = workspace_dir(args.home)
    if args.now:
        with store_from_args(args) as store:
            print(f"backed up to {store.backup('manual')}")
    else:
        # Listing needs no open workspace: it must work when the database does not.
        if not (folder / DB_FILENAME).exists() and not (folder / BACKUP_DIRNAME).is_dir():
            store_from_args(args).close()  # the one clear "no workspace here" line
    found = list(reversed(backups.list_backups(folder / BACKUP_DIRNAME)))
    if not found:
        print(f"no backups in {folder / BACKUP_DIRNAME}")
        return 0
    rows = [(b.path.name, _when(b.taken), b.reason, f"{b.size / 1024:.0f} KB") for b in found]
    print_table(["backup", "taken", "why", "size"], rows)
    print(f"newest: {found[0].path}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    folder = workspace_dir(args.home)
    source = backups.resolve(folder, args.backup)
    holder = workspace_holder(folder / DB_FILENAME)
    done = backups.restore(folder, source, in_use=holder is not None)
    kept = f"; the replaced workspace was kept as {done.previous}" if done.previous else ""
    print(f"{folder / DB_FILENAME}: restored from {done.source}{kept}")
    return 0
