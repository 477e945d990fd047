"""A disk that fails in the middle of an import, for the tests that check what it leaves behind."""

from __future__ import annotations

import sqlite3

import pytest

from core.store import transcripts as transcript_store


def fail_on_insert(monkeypatch: pytest.MonkeyPatch, nth: int = 3) -> None:
    """The ``nth`` transcript the import stores raises a disk I/O error; the others are stored."""
    real_insert = transcript_store.insert_transcript
    calls = {"n": 0}

    def failing(store_, parsed, **kw):
        calls["n"] += 1
        if calls["n"] == nth:
            raise sqlite3.OperationalError("disk I/O error")
        return real_insert(store_, parsed, **kw)

    monkeypatch.setattr(transcript_store, "insert_transcript", failing)
