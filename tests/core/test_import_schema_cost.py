"""Migration 0012 (import cost): cheaper turn indexes, CHECK and full-text index, same answers.

An import's database time went to two role indexes, a CHECK whose IN list SQLite
rebuilds for every inserted row, and FTS5's per-turn token counts; the import
also let FTS5 merge its segments after every commit. These tests hold what must
not change: the role rule, the per-role counts, the reads still served by an
index, the full-text index's answers across the migration, and FTS5's merge
settings after an import, whether it succeeds or fails.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from core import importing
from core.store import curation_queries, open_store
from core.store import datasets as dataset_store
from core.store import transcripts as transcript_store
from core.workspace import DB_FILENAME
from tests.core.import_faults import fail_on_insert
from tests.fixtures.make_workspaces import fixture_path

BEFORE_0012 = fixture_path("0012_import_cost")
ROLES = ("therapist", "client", "other")


def _workspace_before_0012(tmp_path: Path) -> Path:
    ws = tmp_path / "old"
    ws.mkdir(mode=0o700)
    shutil.copyfile(BEFORE_0012, ws / DB_FILENAME)
    return ws


def _add_turns(conn: sqlite3.Connection, roles: list[str]) -> None:
    tid = conn.execute(
        "INSERT INTO transcripts (title, source_path, content_hash, format, imported_at) "
        "VALUES ('t', 'p', ?, 'text', 'now')",
        [f"h{len(roles)}-{conn.execute('SELECT count(*) FROM transcripts').fetchone()[0]}"],
    ).lastrowid
    conn.executemany(
        "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
        "VALUES (?, ?, ?, 'S', ?, ?, ?)",
        [(tid, i, role, " ".join(["word"] * (i + 1)), " ".join(["word"] * (i + 1)), i + 1)
         for i, role in enumerate(roles)],
    )


@pytest.mark.parametrize("kind", ["fresh", "migrated"])
def test_the_role_check_refuses_what_it_refused_before(tmp_path: Path, kind: str) -> None:
    ws = _workspace_before_0012(tmp_path) if kind == "migrated" else tmp_path / "new"
    with open_store(ws) as store:
        conn = store.conn
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'turns'").fetchone()[0]
        assert " IN (" not in sql, "the IN-list CHECK is back: SQLite rebuilds its list per inserted row"
        _add_turns(conn, list(ROLES))
        for bad in ("Therapist", "THERAPIST", "patient", "", "therapist "):
            with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
                _add_turns(conn, [bad])
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            _add_turns(conn, [None])  # type: ignore[list-item]
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_stats_counts_each_role_from_the_indexes(tmp_path: Path) -> None:
    with open_store(tmp_path / "ws") as store:
        _add_turns(store.conn, ["therapist", "client", "other", "therapist", "client", "therapist"])
        _add_turns(store.conn, ["client", "other", "other"])
        queries: list[str] = []
        store.conn.set_trace_callback(queries.append)
        stats = transcript_store.stats(store)
        store.conn.set_trace_callback(None)
        by_role = dict(store.conn.execute("SELECT role, count(*) FROM turns GROUP BY role").fetchall())
        assert (stats.turns, stats.therapist_turns, stats.client_turns) == (
            sum(by_role.values()), by_role["therapist"], by_role["client"],
        ) == (9, 3, 3)
        for sql in queries:
            plan = " | ".join(r[3] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            if "turns" in sql:
                assert "INDEX" in plan, f"stats reads the whole turns table: {sql} → {plan}"


def test_therapist_reads_still_use_the_turn_index(tmp_path: Path) -> None:
    """Every read of 'therapist turns of N+ words' is a range scan of the (now partial) index."""
    with open_store(tmp_path / "ws") as store:
        for _ in range(3):
            _add_turns(store.conn, ["client", "therapist"] * 30)
        queries: list[str] = []
        store.conn.set_trace_callback(queries.append)
        eligible = curation_queries.eligible_turn_ids(store, min_words=50)
        curation_queries.transcript_summaries(store, min_words=50, rater=None)
        counts = dataset_store.therapist_length_counts(store)
        store.conn.set_trace_callback(None)
        # Positions 49, 51, … 59 are therapist turns of 50+ words, in each of 3 transcripts.
        assert len(eligible) == 3 * 6
        assert sum(counts.values()) == 3 * 30
        checked = 0
        for sql in queries:
            if "role = 'therapist'" not in sql:
                continue
            plan = " | ".join(r[3] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "turns_role_words_transcript" in plan, f"{sql} → {plan}"
            checked += 1
        assert checked >= 3


def test_the_full_text_index_answers_the_same_after_migrating(tmp_path: Path) -> None:
    ws = _workspace_before_0012(tmp_path)
    with sqlite3.connect(ws / DB_FILENAME) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM turns")]
        words = sorted({w.strip(".,?!'\"").lower() for t in texts for w in t.split()} - {""})[:40]
        before = {w: conn.execute(
            "SELECT rowid FROM turns_fts WHERE turns_fts MATCH ? ORDER BY rowid", [f'"{w}"']
        ).fetchall() for w in words}
    assert sum(map(len, before.values())) > 20
    with open_store(ws) as store:
        conn = store.conn
        assert "columnsize=0" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'turns_fts'").fetchone()[0]
        conn.execute("INSERT INTO turns_fts(turns_fts) VALUES ('integrity-check')")
        after = {w: conn.execute(
            "SELECT rowid FROM turns_fts WHERE turns_fts MATCH ? ORDER BY rowid", [f'"{w}"']
        ).fetchall() for w in words}
        # snippet() counts a shown turn's tokens itself now that the index keeps no sizes.
        snippet = conn.execute(
            "SELECT snippet(turns_fts, 0, '[', ']', '…', 8) FROM turns_fts WHERE turns_fts MATCH ? LIMIT 1",
            [f'"{words[0]}"'],
        ).fetchone()
    assert after == before
    assert snippet and "[" in snippet[0]


def _fts_config(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT k, v FROM turns_fts_config WHERE k IN ('automerge', 'crisismerge')"))


def _sessions(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"s{i}.txt").write_text(
            "".join(f"THERAPIST: {folder.name} session {i} line {k}\nCLIENT: reply {k} here\n" for k in range(5)),
            encoding="utf-8",
        )
    return sorted(folder.iterdir())


def test_an_import_gives_fts5_its_merge_settings_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "COMMIT_EVERY_S", 0.0)  # a batch per file: several segments
    with open_store(tmp_path / "ws") as store:
        importing.import_paths(store, _sessions(tmp_path / "a", 4))
        assert _fts_config(store.conn) in ({}, {"automerge": 4, "crisismerge": 16})
        # A value someone set stays what it was.
        store.conn.execute("INSERT INTO turns_fts(turns_fts, rank) VALUES ('automerge', 8)")
        importing.import_paths(store, _sessions(tmp_path / "b", 3))
        assert _fts_config(store.conn) == {"automerge": 8, "crisismerge": 16}
        store.conn.execute("INSERT INTO turns_fts(turns_fts) VALUES ('integrity-check')")
        assert store.conn.execute(
            "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'reply'"
        ).fetchone()[0] == store.conn.execute("SELECT count(*) FROM turns WHERE text LIKE 'reply%'").fetchone()[0] == 35


def test_a_failed_import_leaves_fts5_merge_settings_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _sessions(tmp_path / "in", 3)
    fail_on_insert(monkeypatch, nth=3)
    with open_store(tmp_path / "ws") as store:
        before = _fts_config(store.conn)
        with pytest.raises(sqlite3.OperationalError):
            importing.import_paths(store, paths)
        assert _fts_config(store.conn) == before
