"""Where a workspace lives on disk.

A workspace is one folder holding ``attune.db`` and a ``backups/`` folder.
``--home DIR`` beats ``ATTUNE_HOME``, which beats platformdirs' user data dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DB_FILENAME = "attune.db"
BACKUP_DIRNAME = "backups"
HOME_ENV = "ATTUNE_HOME"


def workspace_dir(home: str | os.PathLike[str] | None = None) -> Path:
    if home:
        return Path(home).expanduser()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("Attune", appauthor=False))


def db_path(home: str | os.PathLike[str] | None = None) -> Path:
    return workspace_dir(home) / DB_FILENAME
