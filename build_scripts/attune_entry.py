"""Entry point of the frozen (PyInstaller) app; the source tree uses ``cli:main``.

``freeze_support()`` must run before anything else: a frozen executable that
starts a ``multiprocessing`` worker re-launches itself, and without this call
the child would parse the worker's arguments as an ``attune`` command line and
open a second window instead of doing the work.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _prepare_streams() -> None:
    # A windowed program (Attune.exe, Attune.app) has no console: sys.stdout and
    # sys.stderr are None there, and the first print would raise.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def _arguments() -> list[str]:
    # Older macOS versions pass a process serial number when Finder opens an app.
    return [a for a in sys.argv[1:] if not (sys.platform == "darwin" and a.startswith("-psn_"))]


if __name__ == "__main__":
    multiprocessing.freeze_support()
    _prepare_streams()
    from cli import main

    sys.exit(main(_arguments()))
