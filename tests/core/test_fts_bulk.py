"""The import fills the full-text index in bulk, and the index is exactly a row-by-row fill.

``core/importing.py`` drops the per-row insert trigger inside each batch and
indexes the batch with one ``INSERT … SELECT`` (``defer_turn_index``). These
tests compare that index, token by token and position by position, with one
filled by the trigger, and check the trigger is back whatever happens.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core import importing
from core.importers import ImportOptions
from core.store import open_store
from core.store import transcripts as transcript_store
from tests.core.import_faults import fail_on_insert

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def _sessions(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"s{i:02d}.txt").write_text(
            "\n".join(
                f"{'THERAPIST' if k % 2 == 0 else 'CLIENT'}: session {i} line {k} Café naïve ünïcode words {k * i}"
                for k in range(8)
            )
            + "\n",
            encoding="utf-8",
        )
    return sorted(folder.iterdir())


def _index(conn: sqlite3.Connection) -> list[tuple]:
    """Every (term, turn, column, offset) the index holds, plus FTS5's own consistency check."""
    conn.execute("INSERT INTO turns_fts(turns_fts) VALUES ('integrity-check')")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, turns_fts, instance)")
    return conn.execute("SELECT term, doc, col, offset FROM temp.fts_terms ORDER BY term, doc, offset").fetchall()


def _trigger_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def _row_by_row(workspace: Path, paths: list[Path]) -> list[tuple]:
    """The same files stored with the trigger in place, one row at a time."""
    with open_store(workspace) as store:
        store.conn.execute("BEGIN IMMEDIATE")
        for path in paths:
            for parsed in importing.read_and_parse(path, format=None, options=ImportOptions()):
                transcript_store.insert_transcript(
                    store, parsed, source_path=str(path), content_hash=importing.content_hash(parsed)
                )
        store.conn.execute("COMMIT")
        return _index(store.conn)


@pytest.mark.parametrize("commit_every_s", [0.0, 3600.0], ids=["batch-per-file", "one-batch"])
def test_bulk_index_equals_row_by_row_fill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, commit_every_s: float) -> None:
    monkeypatch.setattr(importing, "COMMIT_EVERY_S", commit_every_s)
    paths = _sessions(tmp_path / "in", 6) + sorted(DEMO.glob("*.txt"))
    with open_store(tmp_path / "bulk") as store:
        report = importing.import_paths(store, paths)
        assert not report.failed
        bulk = _index(store.conn)
        triggers = _trigger_names(store.conn)
    expected = _row_by_row(tmp_path / "rows", paths)
    assert len(bulk) > 1000
    assert bulk == expected
    assert "turns_fts_insert" in triggers


def test_turns_added_after_an_import_are_indexed_by_the_trigger(tmp_path: Path) -> None:
    with open_store(tmp_path / "ws") as store:
        importing.import_paths(store, _sessions(tmp_path / "a", 2))
        importing.import_paths(store, [DEMO / "01-anxiety-maya.txt"])
        # A write that is not an import goes through the restored trigger.
        store.conn.execute(
            "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
            "VALUES (1, 99, 'client', 'CLIENT', 'zanzibar quokka', 'zanzibar quokka', 2)"
        )
        assert store.conn.execute(
            "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'quokka'"
        ).fetchone() == (1,)
        assert store.conn.execute(
            "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'session'"
        ).fetchone()[0] == store.conn.execute("SELECT count(*) FROM turns WHERE text LIKE '%session%'").fetchone()[0]
        _index(store.conn)


def test_a_failed_import_leaves_the_trigger_and_no_stray_index_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _sessions(tmp_path / "in", 4)
    monkeypatch.setattr(importing, "COMMIT_EVERY_S", 3600.0)
    fail_on_insert(monkeypatch, nth=3)
    with open_store(tmp_path / "ws") as store:
        with pytest.raises(sqlite3.OperationalError):
            importing.import_paths(store, paths)
        assert "turns_fts_insert" in _trigger_names(store.conn)
        assert store.conn.execute("SELECT count(*) FROM turns").fetchone() == (0,)
        assert _index(store.conn) == []
