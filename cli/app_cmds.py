"""Opening the desktop app from the command line.

``desktop`` is imported inside ``run_gui`` only: ``attune --help`` and every
other subcommand run without loading Qt. ``cli`` sits above ``desktop`` and
``core`` in the import-linter layers, so this import needs no bridge.
"""

from __future__ import annotations

import argparse
import os
import sys

from cli.display_libs import missing_display_libraries_message

NO_DISPLAY_MESSAGE = (
    "attune: no display found; to run the window without a screen set "
    "QT_QPA_PLATFORM=offscreen, or see `attune --help` for the command line"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop app (the default with no command)")
    p.set_defaults(handler=run_gui)


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(args: argparse.Namespace) -> int:
    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 1
    # Before Qt loads: its xcb plugin aborts the process when a library is missing.
    missing = missing_display_libraries_message()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from desktop import app

    return int(app.main(home=args.home))
