"""Opening a workspace safely: pragmas, integrity, backups, migrations.

Order on open (each step refuses rather than risk the user's data):
1. a missing or empty (0-byte) ``attune.db`` is refused unless the caller
   may create one (``attune init``, ``import``, the GUI's first start): a
   typo in ``--home`` must not become a new empty workspace;
2. a write-ahead log deleted under an open workspace is detected from the
   WAL index (``-shm``: the last committed frame against the log's size)
   and reported, before SQLite would silently start a new log;
3. create the folder and file owner-only (0600 files, 0700 folder);
4. set pragmas in one place: WAL, synchronous=FULL, foreign keys, busy timeout;
5. ``PRAGMA quick_check``; on failure name the newest backup;
6. refuse a workspace that has migrations this version does not know (newer);
7. take an online backup (SQLite backup API) if any migration is pending,
   then apply the pending migrations, each in its own transaction;
8. the routine backup when the newest is older than a day (``backups.py``).

Two writers take turns: a write transaction polls for the lock every few
milliseconds for up to ``WRITE_WAIT_S`` (``Store.begin``), long writers pause
between batches (``Store.let_others_write``), and a wait that runs out is one
line (``WorkspaceBusy``), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import (
    WalLost,
    WorkspaceBusy,
    WorkspaceCorrupt,
    WorkspaceError,
    WorkspaceMissing,
    WorkspaceTooNew,
)
from core.store.backups import (
    BACKUPS_KEPT,
    BackupFailedCheck,
    backup_if_stale,
    backup_now,
    newest_backup,
    newest_hint,
)
from core.store.migrations import MIGRATIONS
from core.workspace import BACKUP_DIRNAME, DB_FILENAME

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["BACKUPS_KEPT", "Store", "backup_now", "newest_backup", "open_store", "verify_integrity"]


def _warn(message: str, *args: object) -> None:
    # logging loads on the first warning only: ~5 ms of every command's start otherwise.
    import logging

    logging.getLogger(__name__).warning(message, *args)


# Ordinary statements wait this long for a lock before "database is locked".
BUSY_TIMEOUT_MS = 30_000
# A write transaction waits its turn this long in all ...
WRITE_WAIT_S = 60.0
# ... asking every few ms (SQLite's own back-off grows to 100 ms between
# tries, which misses the short gaps a busy writer leaves).
_BEGIN_POLL_MS = 20
# A long writer (the import) pauses this long after each commit: longer
# than a waiting writer's poll, so the waiter gets its turn.
YIELD_S = 0.03
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6

# The workspace this process opened last: the GUI's error path names its backups.
_last_workspace: Path | None = None
# Databases this process has open (path → Stores). Closing ANY descriptor of a
# file drops every POSIX lock this process holds on it, SQLite's included
# (sqlite.org/howtocorrupt.html §2.2): while a Store is open here, Attune
# never opens the database or its -shm itself.
_open_here: dict[Path, int] = {}


def is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def describe_database_error(exc: sqlite3.DatabaseError, workspace: Path | None = None) -> str:
    """The one line any ``sqlite3.DatabaseError`` becomes at the CLI and GUI edges."""
    ws = Path(workspace) if workspace is not None else _last_workspace
    where = f"{ws / DB_FILENAME}: " if ws is not None else ""
    if is_busy(exc):
        return (f"{where}the workspace is busy: another Attune kept writing to it for too long "
                "(an import?); try again when it is done")
    hint = newest_hint(ws) if ws is not None else "see `attune backups`"
    return f"{where}the database could not be read ({exc}); it may be damaged; {hint}"


class Store:
    """One open workspace database.

    Not thread-safe by design: the GUI gives it to a single database worker
    thread, the command line uses it from the main thread.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn: sqlite3.Connection = conn
        self._db: sqlite_utils.Database | None = None
        self.thread_id = threading.get_ident()
        self._wal_id = _file_id(self.wal_path)

    @property
    def db(self) -> sqlite_utils.Database:
        """A sqlite_utils view of the same connection, made on first use (sqlite_utils is slow to load)."""
        if self._db is None:
            from core.store.sqlite_utils_import import load_sqlite_utils

            self._db = load_sqlite_utils().Database(self.conn)
        return self._db

    @property
    def backup_dir(self) -> Path:
        return self.path.parent / BACKUP_DIRNAME

    @property
    def wal_path(self) -> Path:
        return Path(f"{self.path}-wal")

    def _check_wal(self) -> None:
        """Refuse to write when our write-ahead log was deleted (or replaced) under us.

        This connection still holds the deleted log open: a checkpoint copies
        what it committed into ``attune.db`` before we say so, so nothing is lost.
        """
        now = _file_id(self.wal_path)
        if self._wal_id is None:
            self._wal_id = now
            return
        if now == self._wal_id:
            return
        with contextlib.suppress(sqlite3.DatabaseError):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raise WalLost(
            f"{self.path}: its write-ahead log ({self.wal_path.name}) was deleted while the workspace "
            "was open; Attune wrote the committed changes back into the database; "
            "close and reopen the workspace before making more changes"
        )

    def begin(self) -> None:
        """BEGIN IMMEDIATE, waiting our turn behind another writer for up to ``WRITE_WAIT_S``."""
        self._check_wal()
        conn = self.conn
        deadline = time.monotonic() + WRITE_WAIT_S
        conn.execute(f"PRAGMA busy_timeout = {_BEGIN_POLL_MS}")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        raise
                    if time.monotonic() > deadline:
                        raise WorkspaceBusy(
                            f"{self.path}: the workspace is busy: another Attune held its write lock for "
                            f"over {WRITE_WAIT_S:.0f} s (an import?); nothing was changed, try again"
                        ) from None
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def let_others_write(self) -> None:
        """Between a long writer's commits: leave the lock free long enough for a waiter."""
        time.sleep(YIELD_S)

    def backup(self, reason: str) -> Path | None:
        """An online backup now, before anything destructive; refuses (raises) when it cannot.

        Inside a caller's transaction there is nothing consistent to copy
        yet: skipped (None); the caller's caller took one before it began.
        """
        if self.conn.in_transaction:
            _warn("backup %r skipped: inside a transaction", reason)
            return None
        try:
            return backup_now(self.conn, self.backup_dir, reason)
        except OSError as exc:
            raise WorkspaceError(
                f"{self.backup_dir}: cannot take the backup before {reason.replace('-', ' ')} "
                f"({exc.strerror or exc}); nothing was changed"
            ) from exc

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
        self.begin()
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def close(self) -> None:
        key = self.path.resolve()
        if _open_here.get(key, 0) > 0 and not getattr(self, "_closed", False):
            _open_here[key] -= 1
        self._closed = True
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


def _refuse_if_newer(applied: list[str], path: Path) -> None:
    unknown = sorted(set(applied) - set(MIGRATIONS.names()))
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
        raise WorkspaceCorrupt(
            f"{path}: the database failed its integrity check ({rows[0][0]}); {newest_hint(path.parent)}"
        )


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


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def _refuse_missing(path: Path, create: bool) -> bool:
    """True when the caller may create the workspace and should; raises when it may not."""
    workspace = path.parent
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if not create:
            raise WorkspaceMissing(
                f"{workspace}: no Attune workspace here (no {DB_FILENAME}); check --home, "
                "or create one with `attune init`"
            ) from None
        return True
    wal = Path(f"{path}-wal")
    # A new WAL-mode database can be 0 bytes with everything still in its log.
    if size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        if not create or newest_backup(workspace / BACKUP_DIRNAME) is not None:
            raise WorkspaceMissing(f"{path}: the workspace file is empty (0 bytes); {newest_hint(workspace)}")
    return False


# The WAL index header (``-shm``), native byte order: iVersion, unused,
# iChange, isInit, bigEndCksum, szPage, mxFrame, nPage; a second copy at 48;
# nBackfill (frames already copied into the database) at 96.
_SHM_HEADER = struct.Struct("=IIIBBHII")
_WAL_VERSION = 3007000
_WAL_HEADER, _FRAME_HEADER = 32, 24
_SHM_DMS_BYTE = 128  # every open connection holds a shared lock on it


def lost_wal_frames(path: Path) -> int:
    """Committed frames the WAL index knows of that the log no longer holds (0: none)."""
    try:
        with open(f"{path}-shm", "rb") as f:
            head = f.read(100)
    except OSError:
        return 0
    if len(head) < 100 or head[:48] != head[48:96]:
        return 0  # absent, or being rewritten by a live writer: not ours to judge
    version, _, _, is_init, _, page, max_frame, _ = _SHM_HEADER.unpack_from(head)
    (backfilled,) = struct.unpack_from("=I", head, 96)
    if version != _WAL_VERSION or not is_init or max_frame <= backfilled:
        return 0
    page = 65536 if page == 1 else page
    try:
        have = os.stat(f"{path}-wal").st_size
    except FileNotFoundError:
        have = 0
    return max_frame - backfilled if have < _WAL_HEADER + max_frame * (_FRAME_HEADER + page) else 0


def workspace_holder(path: Path) -> int | None:
    """The pid of another process with the database open (its lock on the WAL index), if any.

    POSIX only (Linux, macOS); elsewhere None. Locks of this process are not seen.
    """
    if sys.platform.startswith("linux"):
        layout, pid_at = "@hhqqi4x", 4
    elif sys.platform == "darwin":
        layout, pid_at = "@qqihh", 2
    else:
        return None
    import fcntl

    try:
        fd = os.open(f"{path}-shm", os.O_RDONLY)
    except OSError:
        return None
    try:
        fields = [0] * 5
        if layout.startswith("@hh"):
            fields[:4] = [fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS_BYTE, 1]
        else:
            fields = [_SHM_DMS_BYTE, 1, 0, fcntl.F_WRLCK, os.SEEK_SET]
        got = struct.unpack(layout, fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(layout, *fields)))
    except OSError:
        return None
    finally:
        os.close(fd)
    lock_type = got[0] if layout.startswith("@hh") else got[3]
    return None if lock_type == fcntl.F_UNLCK else int(got[pid_at])


def _refuse_lost_wal(path: Path) -> None:
    if _open_here.get(path.resolve()):
        return  # reading -shm here would drop our own connection's locks; it checks its log itself
    frames = lost_wal_frames(path)
    if not frames:
        return
    wal = f"{path.name}-wal"
    holder = workspace_holder(path)
    if holder is not None:
        raise WalLost(
            f"{path}: its write-ahead log ({wal}) was deleted while Attune (process {holder}) has the "
            f"workspace open; {frames} committed page(s) are only in that process: close Attune there "
            "so it writes them back, then try again"
        )
    # Nobody holds the deleted log any more: its pages are gone. Drop the stale
    # index so SQLite starts from the last checkpoint, and say so, once.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{path}-shm")
    raise WalLost(
        f"{path}: its write-ahead log ({wal}) was deleted while the workspace was open; changes to "
        f"{frames} page(s) committed since the last checkpoint are lost and the workspace is as it was "
        f"at that checkpoint; {newest_hint(path.parent)}"
    )


def _has_tables(conn: sqlite3.Connection) -> bool:
    """Any table at all (what ``any(db.table_names())`` asked): a new, empty file needs no backup."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')").fetchone()[0] == 1


def _has_data(conn: sqlite3.Connection) -> bool:
    try:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM transcripts)").fetchone()[0] == 1
    except sqlite3.OperationalError:
        return False


def open_store(workspace: Path, *, create: bool = True, check: bool = True) -> Store:
    """Open the workspace folder's database; create it only when ``create`` allows.

    ``create=False`` (every command but ``init``, ``import`` and the GUI's
    first start) refuses a missing or empty database and creates nothing.
    ``check=False`` skips the integrity check here; the caller then owes a
    ``verify_integrity`` before its first write. A pending migration always
    checks first, whatever ``check`` says: never migrate a damaged file.
    """
    global _last_workspace
    workspace = Path(workspace)
    path = workspace / DB_FILENAME
    if _refuse_missing(path, create):
        workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
        _touch_private(path)
    _last_workspace = workspace
    _refuse_lost_wal(path)
    try:
        conn = _connect(path)
    except sqlite3.DatabaseError as exc:
        raise WorkspaceCorrupt(
            f"{path}: not a readable Attune database ({exc}); {newest_hint(workspace)}"
        ) from exc
    try:
        # Plain SQL first: sqlite_utils and its Migrations load only when a step is pending.
        applied = MIGRATIONS.applied_names(conn)
        done = set(applied)
        pending = [name for name in MIGRATIONS.names() if name not in done]
        if check or pending:
            _quick_check(conn, path)
        _refuse_if_newer(applied, path)
        if pending and _has_tables(conn):
            backup_now(conn, workspace / BACKUP_DIRNAME, "before-migration")
        if pending:
            from core.store.sqlite_utils_import import load_sqlite_utils

            MIGRATIONS.apply(load_sqlite_utils().Database(conn))
        for suffix in ("", "-wal", "-shm"):
            _make_private(Path(f"{path}{suffix}"))
        if _has_data(conn):
            try:
                backup_if_stale(conn, workspace / BACKUP_DIRNAME)
            except OSError as exc:  # a full disk must not lock the user out of their work
                _warn("routine backup of %s failed: %s", path, exc)
            except BackupFailedCheck as exc:  # the copy's check saw the damage first
                raise WorkspaceCorrupt(
                    f"{path}: the database failed its integrity check ({exc.verdict}); {newest_hint(workspace)}"
                ) from exc
    except BaseException:
        conn.close()
        raise
    key = path.resolve()
    _open_here[key] = _open_here.get(key, 0) + 1
    return Store(path, conn)
