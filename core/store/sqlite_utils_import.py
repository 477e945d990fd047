"""``sqlite_utils``, imported only when asked, and then without numpy and pandas.

Opening a workspace whose schema is current never needs sqlite_utils: its
import cost ~50 ms of every command's start (issue 12), so the store loads it
only to apply a migration (``migrations.LazyMigrations.framework``) or when a
caller asks for ``Store.db``. sqlite_utils imports numpy and pandas when they
are installed, only to map their types when it creates tables, which Attune
never asks it to do; numpy is installed for the evaluation's bootstrap and
would add ~60 ms more, so both are hidden for this one import.
"""

from __future__ import annotations

import sys
from types import ModuleType


def load_sqlite_utils() -> ModuleType:
    """The ``sqlite_utils`` module (imported on the first call, numpy and pandas hidden)."""
    if "sqlite_utils" in sys.modules:
        import sqlite_utils

        return sqlite_utils
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
