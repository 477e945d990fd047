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
import sqlite3
import sys
from collections.abc import Sequence

from core.errors import AttuneError, UsageError, WorkspaceError
from core.text_safety import TerminalSafeStream, one_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

COMMAND_MODULES = [
    "cli.workspace_cmds",
    "cli.transcript_cmds",
    "cli.curation_cmds",
    "cli.dataset_cmds",
    "cli.evaluation_cmds",
    "cli.app_cmds",
    "cli.backup_cmds",
    "cli.ab_cmds",
    "cli.connect_cmds",
    "cli.egress_cmds",
    "cli.tune_cmds",
    "cli.generate_cmds",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"attune: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


# Every command's name, module and one-line help, so ``attune --help`` and a
# command's dispatch import only what runs: loading every module (and with
# them sqlite_utils, the importers, the evaluation code) cost ~0.2 s a call.
# A module of COMMAND_MODULES with no line here is still loaded on every
# call and works; add its commands here to make it lazy
# (tests/core/test_cli_lazy.py checks this table against the modules).
COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("cli.workspace_cmds", "import transcript files or folders (recursively)"),
    "transcripts": ("cli.workspace_cmds", "list the workspace's transcripts"),
    "stats": ("cli.workspace_cmds", "counts and the therapist-turn length distribution"),
    "dump": ("cli.workspace_cmds", "every transcript as one JSON line"),
    "set-category": (
        "cli.workspace_cmds", "set the symptom category of transcripts, by id or by source metadata"
    ),
    "show": ("cli.transcript_cmds", "print a transcript turn by turn, numbered as the app numbers them"),
    "metadata": ("cli.transcript_cmds", "list source metadata keys, or one key's values"),
    "decisions": (
        "cli.curation_cmds", "print the decision log (who decided what about which turn, when)"
    ),
    "rater": ("cli.curation_cmds", "show or set who is curating"),
    "include": ("cli.curation_cmds", "include therapist turns in training data"),
    "exclude": ("cli.curation_cmds", "exclude turns (therapist or client), with a reason"),
    "rate": ("cli.curation_cmds", "give therapist turns a 1-5 quality rating"),
    "undo": ("cli.curation_cmds", "undo the rater's latest decision step"),
    "redo": ("cli.curation_cmds", "redo the rater's latest undone step"),
    "search": ("cli.curation_cmds", "find turns containing every given word"),
    "redact": ("cli.curation_cmds", "hide a span of a turn's text from every export and prompt"),
    "unredact": ("cli.curation_cmds", "remove your own redaction START-END from a turn"),
    "redactions": ("cli.curation_cmds", "list the redacted spans of turns (every rater)"),
    "dataset": ("cli.dataset_cmds", "build, inspect and export fine-tuning datasets"),
    "responses": ("cli.evaluation_cmds", "replies of a system to test items"),
    "systems": ("cli.evaluation_cmds", "list systems and their reply counts"),
    "evaluate": ("cli.evaluation_cmds", "the paper's metrics per category for the named systems"),
    "ab": ("cli.ab_cmds", "blinded A/B preference sessions: set up, rate, merge, lock, report"),
    "gui": ("cli.app_cmds", "open the desktop app (the default with no command)"),
    "init": ("cli.workspace_cmds", "create a new, empty workspace (other commands never create one)"),
    "backups": ("cli.backup_cmds", "list the workspace's backups, newest first (or take one now)"),
    "restore": (
        "cli.backup_cmds",
        "replace the workspace with a backup (copied, verified, then swapped in; the current one is kept)",
    ),
    "connect": ("cli.connect_cmds", "set (or show, or test) the Vertex AI project, region, bucket and sign-in"),
    "egress-log": ("cli.egress_cmds", "what transcript text left this machine, when, and where"),
    "models": ("cli.tune_cmds", "base models for local tuning: size, licence, fits this machine"),
    "tune": ("cli.tune_cmds", "tune a model on a dataset (locally, or on Vertex AI) and follow the job"),
    "generate": ("cli.generate_cmds", "replies to a dataset's test items from a base or tuned model"),
}


class _Version(argparse.Action):
    """``--version``, reading the installed metadata only when asked (importlib.metadata is slow to load)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        from core import __version__

        print(f"attune {__version__}")
        parser.exit()


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: the first word that is not a global option or its value."""
    args = iter(argv)
    for arg in args:
        if arg == "--home":
            next(args, None)
        elif arg == "--":
            return next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _modules_to_load(command: str | None) -> list[str]:
    """The modules to import: the named command's, and any not yet in COMMANDS."""
    tabled = {module for module, _ in COMMANDS.values()}
    untabled = [m for m in COMMAND_MODULES if m not in tabled]
    if command is not None and command not in COMMANDS:
        return list(COMMAND_MODULES)  # unknown here: let every module have its say
    wanted = [COMMANDS[command][0]] if command is not None else []
    return [m for m in COMMAND_MODULES if m in wanted or m in untabled]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with real subparsers for the command ``argv`` names and stubs for the rest.

    ``argv=None`` here means "no command": every command is a stub, enough for
    ``--help``; a stub is replaced by its module's real parser when it runs.
    """
    argv = list(argv or [])
    command = _command_in(argv)
    # A known command needs only its own parser: the others' stubs (~2 ms) serve the
    # top-level help (`attune --help`, also `attune -h stats`) and the "invalid choice"
    # list, and an unknown command loads every module anyway.
    top_level = command is not None and any(a in ("-h", "--help", "--") for a in argv[: argv.index(command)])
    return _build_parser(_modules_to_load(command), stubs=command not in COMMANDS or top_level)


def build_full_parser() -> argparse.ArgumentParser:
    """Every module's real subparsers (tests, documentation)."""
    return _build_parser(list(COMMAND_MODULES))


def _build_parser(modules: list[str], *, stubs: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="attune",
        description="Curate therapy transcripts into fine-tuning datasets and evaluate models, "
        "all on this machine. With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
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
    for name in modules:
        importlib.import_module(name).register(sub)
    for name, (_module, help_text) in COMMANDS.items() if stubs else ():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    handler = getattr(args, "handler", None)
    if args.self_test:
        from cli.selftest import run_self_test

        handler = run_self_test
    if handler is None:
        from cli.app_cmds import run_gui

        handler = run_gui
    # Everything printed from here on may hold user data (titles, labels, file names):
    # escape sequences and control characters never reach the terminal.
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalSafeStream(sys.stdout), TerminalSafeStream(sys.stderr)
    try:
        return _run(handler, args)
    finally:
        sys.stdout, sys.stderr = streams


def _run(handler, args: argparse.Namespace) -> int:
    """The handler's exit code; every domain error becomes one line on stderr."""
    try:
        return int(handler(args) or 0)
    except UsageError as exc:
        print(f"attune: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except (AttuneError, WorkspaceError) as exc:
        print(f"attune: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.DatabaseError as exc:
        # Damage the open-time check missed, or a lock wait that ran out: one line
        # naming the newest backup, never a traceback.
        from core.store import describe_database_error
        from core.workspace import workspace_dir

        print(f"attune: {one_line(describe_database_error(exc, workspace_dir(args.home)))}", file=sys.stderr)
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
