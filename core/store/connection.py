"""Opening a workspace safely: pragmas, integrity, backups, migrations.

Order on open (each step refuses rather than risk the user's data):
1. create the folder and file owner-only (0600 files, 0700 folder);
2. set pragmas in one place: WAL, synchronous=FULL, foreign keys, busy timeout;
3. ``PRAGMA quick_check``; on failure name the newest backup;
4. refuse a workspace that has migrations this version does not know (newer);
5. take an online backup (SQLite backup API) if any migration is pending,
   then apply the pending migrations, each in its own transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from core.errors import WorkspaceCorrupt, WorkspaceError, WorkspaceTooNew
from core.store.migrations import MIGRATIONS
from core.workspace import BACKUP_DIRNAME, DB_FILENAME

BUSY_TIMEOUT_MS = 5000
BACKUPS_KEPT = 10


class Store:
    """One open workspace database.

    Not thread-safe by design: the GUI gives it to a single database worker
    thread, the command line uses it from the main thread.
    """

    def __init__(self, path: Path, db: sqlite_utils.Database) -> None:
        self.path = path
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.thread_id = threading.get_ident()

    @property
    def backup_dir(self) -> Path:
        return self.path.parent / BACKUP_DIRNAME

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or a SAVEPOINT when already inside one.

        Nested use makes a unit that is all-or-nothing on its own while the
        outer transaction decides when it reaches the disk.
        """
        conn = self.conn
        if conn.in_transaction:
            name = f"sp_{id(object())}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            conn.execute(f"RELEASE {name}")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves so a decision is
    # on disk exactly when its transaction's COMMIT returns.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise WorkspaceError(f"{path}: cannot switch the database to WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA secure_delete = ON")
    return conn


def _make_private(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)


def _touch_private(path: Path) -> None:
    """Create the file owner-only before SQLite writes anything into it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def newest_backup(backup_dir: Path) -> Path | None:
    if not backup_dir.is_dir():
        return None
    backups = sorted(backup_dir.glob("*.db"), key=lambda p: p.stat().st_mtime)
    return backups[-1] if backups else None


def backup_now(store_conn: sqlite3.Connection, backup_dir: Path, reason: str) -> Path:
    """Online backup through the SQLite backup API, owner-only, rotated."""
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"attune-{stamp}-{reason}.db"
    _touch_private(target)
    dest = sqlite3.connect(target)
    try:
        store_conn.backup(dest)
    finally:
        dest.close()
    _make_private(target)
    backups = sorted(backup_dir.glob("attune-*.db"), key=lambda p: p.name)
    for old in backups[:-BACKUPS_KEPT]:
        with contextlib.suppress(OSError):
            old.unlink()
    return target


def _known_migration_names() -> set[str]:
    return {m.name for m in MIGRATIONS._migrations}  # noqa: SLF001 - no public accessor


def _refuse_if_newer(db: sqlite_utils.Database, path: Path) -> None:
    if "_sqlite_migrations" not in db.table_names():
        return
    applied = {
        row[0]
        for row in db.conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATIONS.name]
        )
    }
    unknown = sorted(applied - _known_migration_names())
    if unknown:
        raise WorkspaceTooNew(
            f"{path}: this workspace was written by a newer version of Attune "
            f"(unknown schema step {unknown[0]!r}); update Attune to open it"
        )


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        rows = [(str(exc),)]
    if rows != [("ok",)]:
        backup = newest_backup(path.parent / BACKUP_DIRNAME)
        hint = f"; the newest backup is {backup}" if backup else "; no backup exists"
        raise WorkspaceCorrupt(f"{path}: the database failed its integrity check ({rows[0][0]}){hint}")


def verify_integrity(path: Path) -> None:
    """``PRAGMA quick_check`` on a connection of its own (read-only).

    Lets the GUI check a large workspace concurrently with loading it, while
    writes wait for the verdict (see ``desktop/taskman.py``).
    """
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _quick_check(conn, Path(path))
    finally:
        conn.close()


def open_store(workspace: Path, *, create: bool = True, check: bool = True) -> Store:
    """Open (creating if allowed) the workspace folder's database.

    ``check=False`` skips the integrity check here; the caller then owes a
    ``verify_integrity`` before its first write. A pending migration always
    checks first, whatever ``check`` says: never migrate a damaged file.
    """
    workspace = Path(workspace)
    path = workspace / DB_FILENAME
    if not path.exists():
        if not create:
            raise WorkspaceError(f"{path}: no workspace here")
        workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
        _touch_private(path)
    try:
        conn = _connect(path)
    except sqlite3.DatabaseError as exc:
        backup = newest_backup(workspace / BACKUP_DIRNAME)
        hint = f"; the newest backup is {backup}" if backup else ""
        raise WorkspaceCorrupt(f"{path}: not a readable Attune database ({exc}){hint}") from exc
    try:
        db = sqlite_utils.Database(conn)
        pending = MIGRATIONS.pending(db)
        if check or pending:
            _quick_check(conn, path)
        _refuse_if_newer(db, path)
        if pending and any(db.table_names()):
            backup_now(conn, workspace / BACKUP_DIRNAME, "before-migration")
        if pending:
            MIGRATIONS.apply(db)
        for suffix in ("", "-wal", "-shm"):
            _make_private(Path(f"{path}{suffix}"))
    except BaseException:
        conn.close()
        raise
    return Store(path, db)
