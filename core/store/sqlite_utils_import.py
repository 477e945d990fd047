"""``sqlite_utils`` without numpy and pandas.

sqlite_utils imports numpy and pandas when they are installed, only to map
their types when it creates tables, which Attune never asks it to do. numpy
is installed for the evaluation's bootstrap and would add ~60 ms to every
command and to the window's start (issue 12), so both are hidden for this one
import. ``core/store/__init__.py`` imports this first, so it runs before any
module of the store imports sqlite_utils.
"""

from __future__ import annotations

import sys


def _import_sqlite_utils():  # type: ignore[no-untyped-def]
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # any import of it raises ImportError
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()
