"""Opening a workspace: pragmas, file modes, refusing newer or corrupt files, backups, transactions."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
import sqlite_utils

from tests.store_damage import corrupt_pages
from core.errors import WorkspaceCorrupt, WorkspaceError, WorkspaceTooNew
from core.store import open_store
from core.store.connection import backup_now, verify_integrity
from core.store.migrations import MIGRATIONS
from core.workspace import BACKUP_DIRNAME, DB_FILENAME

MIGRATION_NAMES = [m.name for m in MIGRATIONS._migrations]  # noqa: SLF001 - no public accessor


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _add_transcript(conn: sqlite3.Connection, title: str = "Session", n_turns: int = 3) -> int:
    """Raw rows (not the product's writer) so these tests only depend on the schema."""
    cur = conn.execute(
        "INSERT INTO transcripts (title, source_path, content_hash, format, imported_at, turn_count) "
        "VALUES (?, ?, ?, 'text', '2026-01-01T00:00:00+00:00', ?)",
        [title, f"/in/{title}.txt", f"hash-{title}", n_turns],
    )
    tid = cur.lastrowid
    conn.executemany(
        "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (tid, i, "therapist" if i % 2 == 0 else "client", "T" if i % 2 == 0 else "C",
             f"{title} words number {i}", f"{title} words number {i}", 4)
            for i in range(n_turns)
        ],
    )
    return tid


def _old_workspace(ws: Path, stop_before: str) -> Path:
    """A workspace stopped before ``stop_before``, written the way an older Attune would."""
    ws.mkdir(mode=0o700)
    path = ws / DB_FILENAME
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    MIGRATIONS.apply(sqlite_utils.Database(conn), stop_before=stop_before)
    conn.execute("BEGIN")
    _add_transcript(conn, "old")
    conn.execute("COMMIT")
    conn.close()
    return path


# Pragmas and file modes #######################################################


def test_pragmas_are_set_on_every_connection(store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_foreign_keys_are_enforced(store) -> None:
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as conn:
        conn.execute(
            "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
            "VALUES (999, 0, 'client', 'C', 'x', 'x', 1)"
        )


def test_files_are_owner_only_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)  # the worst case: everything world-writable by default
    try:
        ws = tmp_path / "ws"
        store = open_store(ws)
        with store.transaction() as conn:
            _add_transcript(conn)
        db = ws / DB_FILENAME
        # The WAL and shared-memory files exist while the connection is open.
        for suffix in ("", "-wal", "-shm"):
            f = Path(f"{db}{suffix}")
            assert f.exists(), f
            assert _mode(f) == 0o600, (f, oct(_mode(f)))
        assert _mode(ws) == 0o700
        backup = backup_now(store.conn, store.backup_dir, "manual")
        assert _mode(backup) == 0o600
        assert _mode(store.backup_dir) == 0o700
        store.close()
    finally:
        os.umask(old)


def test_backup_taken_before_migrating_is_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        ws = tmp_path / "ws"
        _old_workspace(ws, MIGRATION_NAMES[-1])
        open_store(ws).close()
        backups = list((ws / BACKUP_DIRNAME).iterdir())
        assert len(backups) == 1
        assert _mode(backups[0]) == 0o600
        assert _mode(ws / BACKUP_DIRNAME) == 0o700
        assert _mode(ws / DB_FILENAME) == 0o600
    finally:
        os.umask(old)


# Refusing what could be damaged ##############################################


def test_newer_workspace_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = open_store(ws)
    with store.transaction() as conn:
        _add_transcript(conn)
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
            [MIGRATIONS.name, "9999_from_the_future", "2030-01-01 00:00:00"],
        )
    store.close()  # last connection closed: WAL checkpointed into the main file
    db = ws / DB_FILENAME
    before = db.read_bytes()
    listing = sorted(p.name for p in ws.iterdir())

    with pytest.raises(WorkspaceTooNew, match="9999_from_the_future"):
        open_store(ws)

    assert db.read_bytes() == before
    assert sorted(p.name for p in ws.iterdir()) == listing  # no backup, no leftovers


def _corrupt_middle_pages(db: Path) -> None:
    corrupt_pages(db, at=1 / 3, count=5)


def test_corrupt_workspace_is_refused_naming_the_newest_backup(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = open_store(ws)
    with store.transaction() as conn:
        for i in range(40):
            _add_transcript(conn, f"t{i}", n_turns=40)
    older = backup_now(store.conn, store.backup_dir, "first")
    time.sleep(0.02)
    newer = backup_now(store.conn, store.backup_dir, "second")
    os.utime(older, (time.time() - 3600, time.time() - 3600))
    store.close()
    _corrupt_middle_pages(ws / DB_FILENAME)

    with pytest.raises(WorkspaceCorrupt) as info:
        open_store(ws)

    message = str(info.value)
    assert str(ws / DB_FILENAME) in message
    assert str(newer) in message
    assert str(older) not in message
    assert "\n" not in message


def test_corrupt_workspace_without_backups_says_so(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = open_store(ws)
    with store.transaction() as conn:
        for i in range(40):
            _add_transcript(conn, f"t{i}", n_turns=40)
    store.close()
    _corrupt_middle_pages(ws / DB_FILENAME)
    with pytest.raises(WorkspaceCorrupt, match="no backup"):
        open_store(ws)


def test_a_file_that_is_not_a_database_is_refused_naming_the_backup(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = open_store(ws)
    backup = backup_now(store.conn, store.backup_dir, "manual")
    store.close()
    (ws / DB_FILENAME).write_bytes(b"this is not an SQLite database at all " * 200)
    with pytest.raises(WorkspaceCorrupt) as info:
        open_store(ws)
    assert str(backup) in str(info.value)


def _corrupt_workspace_with_backup(tmp_path: Path) -> tuple[Path, Path]:
    ws = tmp_path / "ws"
    store = open_store(ws)
    with store.transaction() as conn:
        for i in range(40):
            _add_transcript(conn, f"t{i}", n_turns=40)
    backup = backup_now(store.conn, store.backup_dir, "manual")
    store.close()
    _corrupt_middle_pages(ws / DB_FILENAME)
    return ws, backup


def test_verify_integrity_names_the_backup_and_changes_nothing(tmp_path: Path) -> None:
    ws, backup = _corrupt_workspace_with_backup(tmp_path)
    before = (ws / DB_FILENAME).read_bytes()
    with pytest.raises(WorkspaceCorrupt) as info:
        verify_integrity(ws / DB_FILENAME)
    assert str(backup) in str(info.value)
    assert (ws / DB_FILENAME).read_bytes() == before


def test_verify_integrity_passes_a_healthy_workspace(store) -> None:
    with store.transaction() as conn:
        _add_transcript(conn)
    assert verify_integrity(store.path) is None  # alongside the open connection, as the GUI does
    # It read through a connection of its own and left no lock behind: the store still writes.
    with store.transaction() as conn:
        _add_transcript(conn, "After the check")
    assert store.conn.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 2


def test_pending_migration_checks_integrity_even_when_told_not_to(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    path = _old_workspace(ws, MIGRATION_NAMES[-1])
    conn = sqlite3.connect(path)
    with conn:
        for i in range(40):
            _add_transcript(conn, f"t{i}", n_turns=40)
    conn.close()  # the last connection: the WAL is checkpointed into the file
    _corrupt_middle_pages(path)
    before = path.read_bytes()
    with pytest.raises(WorkspaceCorrupt):
        open_store(ws, check=False)
    assert path.read_bytes() == before  # never migrated, never backed up
    assert not (ws / BACKUP_DIRNAME).exists()


def test_missing_workspace_is_not_created_when_asked_not_to(tmp_path: Path) -> None:
    ws = tmp_path / "nowhere"
    with pytest.raises(WorkspaceError, match="no Attune workspace"):
        open_store(ws, create=False)
    assert not ws.exists()


# Backups around migrations ###################################################


def test_backup_is_taken_before_pending_migrations_and_opens(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    path = _old_workspace(ws, MIGRATION_NAMES[-1])
    # Keep a reader open with checkpoints off so the newest rows live only in
    # the WAL: a plain copy of attune.db would miss them, the backup API not.
    keeper = sqlite3.connect(path, isolation_level=None)
    keeper.execute("PRAGMA wal_autocheckpoint = 0")
    keeper.execute("BEGIN")
    _add_transcript(keeper, "only-in-wal")
    keeper.execute("COMMIT")
    plain_copy = tmp_path / "plain-copy.db"
    plain_copy.write_bytes(path.read_bytes())
    with sqlite3.connect(plain_copy) as c:
        in_main_file = c.execute("SELECT count(*) FROM transcripts WHERE title = 'only-in-wal'").fetchone()
    assert in_main_file == (0,), "test setup: the row should live only in the WAL"

    store = open_store(ws)
    store.close()
    keeper.close()

    backups = sorted((ws / BACKUP_DIRNAME).glob("*.db"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as b:
        assert b.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        titles = {r[0] for r in b.execute("SELECT title FROM transcripts")}
        assert titles == {"old", "only-in-wal"}
        applied = [r[0] for r in b.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert applied == MIGRATION_NAMES[:-1]  # the state before migrating
    # And the backup itself opens as a workspace (migrating a copy of it).
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / DB_FILENAME).write_bytes(backups[0].read_bytes())
    with open_store(restored) as s:
        assert s.conn.execute("SELECT count(*) FROM transcripts").fetchone() == (2,)


def test_the_routine_backup_is_taken_once_a_day_and_only_of_data(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    open_store(ws).close()  # a brand-new workspace has nothing worth backing up
    backup_dir = ws / BACKUP_DIRNAME
    assert not backup_dir.exists() or not list(backup_dir.iterdir())
    with open_store(ws) as store, store.transaction() as conn:
        _add_transcript(conn)
    open_store(ws).close()
    daily = sorted(backup_dir.glob("*-daily.db"))
    assert len(daily) == 1
    open_store(ws).close()  # the newest is younger than a day: none more
    assert sorted(backup_dir.glob("*.db")) == daily


def test_every_migration_is_applied_and_recorded(store) -> None:
    applied = [r[0] for r in store.conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert applied == MIGRATION_NAMES
    assert MIGRATIONS.pending(store.db) == []


# Store.transaction ###########################################################


def _titles(store) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT title FROM transcripts ORDER BY id")]


def test_inner_failure_rolls_back_only_the_savepoint(store) -> None:
    with store.transaction() as conn:
        _add_transcript(conn, "outer")
        with pytest.raises(RuntimeError), store.transaction() as inner:
            _add_transcript(inner, "inner")
            raise RuntimeError("boom")
        assert conn.in_transaction
        _add_transcript(conn, "after")
    assert not store.conn.in_transaction
    assert _titles(store) == ["outer", "after"]
    # The inner transcript's turns went with it.
    assert store.conn.execute("SELECT count(*) FROM turns").fetchone() == (6,)


def test_outer_failure_rolls_back_committed_savepoints_too(store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        _add_transcript(conn, "outer")
        with store.transaction() as inner:
            _add_transcript(inner, "inner")
        raise RuntimeError("boom")
    assert not store.conn.in_transaction
    assert _titles(store) == []


def test_commit_is_on_disk_for_another_connection(store) -> None:
    with store.transaction() as conn:
        _add_transcript(conn, "durable")
        with store.transaction() as inner:
            _add_transcript(inner, "nested")
        other = sqlite3.connect(store.path)
        assert other.execute("SELECT count(*) FROM transcripts").fetchone() == (0,)
    assert other.execute("SELECT title FROM transcripts ORDER BY id").fetchall() == [("durable",), ("nested",)]
    other.close()


def test_deeply_nested_savepoints(store) -> None:
    with store.transaction() as c1:
        _add_transcript(c1, "a")
        with store.transaction() as c2:
            _add_transcript(c2, "b")
            with pytest.raises(ValueError), store.transaction() as c3:
                _add_transcript(c3, "c")
                raise ValueError
            _add_transcript(c2, "d")
    assert _titles(store) == ["a", "b", "d"]
