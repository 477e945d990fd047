"""Every earlier schema version opens, migrates, and keeps its data.

The fixtures are written by ``python -m tests.fixtures.make_workspaces``: one
workspace per proper prefix of the migration list. Adding a migration without
adding the fixture for the version before it fails here, on purpose.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from core.store import open_store
from core.store.migrations import MIGRATIONS
from core.workspace import BACKUP_DIRNAME, DB_FILENAME
from tests.fixtures.make_workspaces import FIXTURE_DIR, expected_fixtures, migration_names

REGENERATE = "run `python -m tests.fixtures.make_workspaces --missing-only` and commit the new file"
FIXTURES = expected_fixtures()


def test_every_earlier_schema_version_has_a_fixture() -> None:
    missing = [f"{path.name} (the schema before migration {name})" for name, path in FIXTURES.items()
               if not path.exists()]
    assert not missing, f"missing fixture workspace(s): {', '.join(missing)}; {REGENERATE}"


def test_no_fixture_for_a_migration_that_no_longer_exists() -> None:
    stale = sorted(p.name for p in set(FIXTURE_DIR.glob("before_*.db")) - set(FIXTURES.values()))
    assert not stale, f"fixture(s) for unknown migrations: {', '.join(stale)}; delete them"


def _applied(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid", [MIGRATIONS.name]
    )]


def _user_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != '_sqlite_migrations'"
    ).fetchall()
    virtual = [n for n, sql in rows if sql and sql.upper().startswith("CREATE VIRTUAL")]
    return sorted(n for n, _ in rows if n not in virtual and not any(n.startswith(f"{v}_") for v in virtual))


def _snapshot(conn: sqlite3.Connection) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every user table's columns and rows, in a stable order."""
    out = {}
    for table in _user_tables(conn):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(cols)}").fetchall()
        out[table] = (cols, rows)
    return out


@pytest.fixture(params=sorted(FIXTURES), ids=lambda name: f"before_{name}")
def old_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    stop_before = request.param
    source = FIXTURES[stop_before]
    if not source.exists():
        pytest.fail(f"{source.name} is missing; {REGENERATE}")
    ws = tmp_path / "ws"
    ws.mkdir(mode=0o700)
    shutil.copyfile(source, ws / DB_FILENAME)
    return stop_before, ws


def test_fixture_is_at_the_version_it_claims(old_workspace: tuple[str, Path]) -> None:
    stop_before, ws = old_workspace
    names = migration_names()
    with sqlite3.connect(ws / DB_FILENAME) as conn:
        assert _applied(conn) == names[: names.index(stop_before)]
        assert conn.execute("SELECT count(*) FROM turns").fetchone()[0] > 0, "fixture holds no turns"


def test_old_workspace_migrates_and_keeps_its_data(old_workspace: tuple[str, Path]) -> None:
    stop_before, ws = old_workspace
    with sqlite3.connect(ws / DB_FILENAME) as conn:
        before = _snapshot(conn)
    assert before["transcripts"][1] and before["turns"][1]

    with open_store(ws) as store:
        assert _applied(store.conn) == migration_names()
        assert MIGRATIONS.pending(store.db) == []
        after = _snapshot(store.conn)
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    for table, (cols, rows) in before.items():
        assert table in after, f"migrating from before {stop_before} dropped table {table}"
        after_cols, after_rows = after[table]
        missing = [c for c in cols if c not in after_cols]
        assert not missing, f"migrating from before {stop_before} dropped {table}.{missing[0]}"
        idx = [after_cols.index(c) for c in cols]
        kept = sorted(tuple(r[i] for i in idx) for r in after_rows)
        assert kept == sorted(rows), f"migrating from before {stop_before} changed the rows of {table}"


def test_old_turns_are_searchable_after_migrating(old_workspace: tuple[str, Path]) -> None:
    _stop_before, ws = old_workspace
    with sqlite3.connect(ws / DB_FILENAME) as conn:
        turn_id, text = conn.execute("SELECT id, text FROM turns ORDER BY length(text) DESC").fetchone()
    word = max(text.split(), key=len).strip(".,?!")
    with open_store(ws) as store:
        hits = {r[0] for r in store.conn.execute("SELECT rowid FROM turns_fts WHERE turns_fts MATCH ?", [word])}
    assert turn_id in hits, f"turn {turn_id} not found searching for {word!r} after migrating"


def test_a_backup_of_the_old_version_is_kept(old_workspace: tuple[str, Path]) -> None:
    stop_before, ws = old_workspace
    open_store(ws).close()
    backups = list((ws / BACKUP_DIRNAME).glob("*.db"))
    assert len(backups) == 1
    names = migration_names()
    with sqlite3.connect(backups[0]) as b:
        assert _applied(b) == names[: names.index(stop_before)]
        assert b.execute("SELECT count(*) FROM turns").fetchone()[0] > 0


def test_product_code_reads_the_migrated_data(old_workspace: tuple[str, Path]) -> None:
    """Old rows must still make valid objects (enums, JSON columns) for today's readers."""
    from core.store import transcripts as transcript_store

    _stop_before, ws = old_workspace
    with sqlite3.connect(ws / DB_FILENAME) as conn:
        expected = conn.execute("SELECT id, title, turn_count FROM transcripts ORDER BY id").fetchall()
    with open_store(ws) as store:
        listed = transcript_store.list_transcripts(store)
        assert [(t.id, t.title, t.turn_count) for t in listed] == expected
        for t in listed:
            turns = transcript_store.turns_of(store, t.id)
            assert len(turns) == t.turn_count
            assert [turn.position for turn in turns] == list(range(t.turn_count))
        stats = transcript_store.stats(store)
        assert stats.transcripts == len(expected)
        assert stats.turns == sum(n for _, _, n in expected)
