"""The local SQLite store. Every SQL statement in Attune lives in this package.

``Store`` owns one connection. Area modules (``transcripts``, ``decisions``,
``datasets``, ``responses``…) are plain functions taking a ``Store``; they are
the only code that writes SQL. Open a workspace with ``open_store``.
"""

from __future__ import annotations

# sqlite_utils is loaded only to apply a migration (core/store/sqlite_utils_import.py).
from core.store.connection import Store, describe_database_error, open_store, verify_integrity, workspace_holder

# The front door for callers above the domain (cli, desktop): the workspace handle and its
# whole-file checks. Area modules (transcripts, datasets, decisions, responses…) are reached
# through the domain packages only (import-linter contract in pyproject.toml).
__all__ = ["Store", "describe_database_error", "open_store", "verify_integrity", "workspace_holder"]
