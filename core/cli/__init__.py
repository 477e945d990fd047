"""The ``attune`` command line.

Every subcommand works without Qt. Each area registers its subcommands from
its own module (``COMMAND_MODULES``), so new features add a module, not edits
here. ``attune`` with no subcommand (or ``attune gui``) opens the desktop app;
that is the one place Qt is loaded, lazily, so ``attune --help`` never pays
for it.

Exit codes: 0 all went well, 1 some inputs failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core import __version__
from core.errors import AttuneError, UsageError, WorkspaceError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

COMMAND_MODULES = [
    "core.cli.workspace_cmds",
    "core.cli.curation_cmds",
    "core.cli.dataset_cmds",
    "core.cli.evaluation_cmds",
    "core.cli.app_cmds",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"attune: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="attune",
        description="Curate therapy transcripts into fine-tuning datasets and evaluate models, "
        "all on this machine. With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"attune {__version__}")
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="workspace folder (default: $ATTUNE_HOME, else the user data folder)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation end to end in a temporary workspace (offscreen, offline) and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if args.self_test:
        from core.selftest import run_self_test

        handler = run_self_test
    if handler is None:
        from core.cli.app_cmds import run_gui

        handler = run_gui
    try:
        return int(handler(args) or 0)
    except UsageError as exc:
        print(f"attune: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (AttuneError, WorkspaceError) as exc:
        print(f"attune: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("attune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `attune dump | head` closed the pipe; not an error for the user.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
