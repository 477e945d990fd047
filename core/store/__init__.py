"""The local SQLite store. Every SQL statement in Attune lives in this package.

``Store`` owns one connection. Area modules (``transcripts``, ``decisions``,
``datasets``, ``responses``…) are plain functions taking a ``Store``; they are
the only code that writes SQL. Open a workspace with ``open_store``.
"""

from __future__ import annotations

from core.store.connection import Store, open_store

__all__ = ["Store", "open_store"]
