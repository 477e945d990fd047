"""Backups of the workspace database: taken, listed, rotated, restored.

Every backup goes through SQLite's online backup API (a consistent copy of
a live database, WAL included; a plain file copy is not), is created
owner-only, and is verified with ``quick_check`` before the rotation may
drop an older one, so a damaged source never pushes the good copies out.

When: before a migration, at start when the newest is older than a day,
and before anything destructive (deleting a dataset or a system's replies,
``responses import --replace``). Restoring copies the backup to a new file
beside the workspace, checks it with ``integrity_check``, keeps the current
file as a backup of its own, and swaps the new file in with one rename.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core import clock
from core.errors import UsageError, WorkspaceCorrupt, WorkspaceError
from core.workspace import BACKUP_DIRNAME, DB_FILENAME

BACKUPS_KEPT = 10
DAILY_S = 24 * 3600
PREFIX = "attune-"


class BackupFailedCheck(WorkspaceCorrupt):
    """The fresh copy failed ``quick_check``: the source is damaged. The copy was dropped."""

    def __init__(self, target: Path, verdict: str) -> None:
        self.verdict = verdict
        super().__init__(f"{target}: the backup failed its check ({verdict}); older backups were kept")


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    taken: datetime  # UTC
    reason: str
    size: int


def _private_file(path: Path) -> None:
    """Create the file owner-only before SQLite writes anything into it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name == "posix":
        _fsync(folder)


def _info(path: Path) -> BackupInfo | None:
    # attune-20261130T184639123456Z-before-delete.db
    stem = path.name.removesuffix(".db")
    if not stem.startswith(PREFIX):
        return None
    stamp, _, reason = stem[len(PREFIX):].partition("-")
    try:
        taken = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        size = path.stat().st_size
    except (ValueError, OSError):
        return None
    return BackupInfo(path=path, taken=taken, reason=reason, size=size)


def list_backups(backup_dir: Path) -> list[BackupInfo]:
    """Every backup in the folder, oldest first (by the time in its name)."""
    if not backup_dir.is_dir():
        return []
    found = [_info(p) for p in backup_dir.glob(f"{PREFIX}*.db")]
    return sorted((b for b in found if b is not None), key=lambda b: b.taken)


def newest_backup(backup_dir: Path) -> Path | None:
    backups = list_backups(backup_dir)
    return backups[-1].path if backups else None


def newest_hint(workspace: Path) -> str:
    """"the newest backup is X (restore it with …)", or "no backup exists"."""
    backup = newest_backup(Path(workspace) / BACKUP_DIRNAME)
    if backup is None:
        return "no backup exists"
    return f"the newest backup is {backup} (restore it with `attune restore {backup.name}`)"


def _check(conn: sqlite3.Connection, pragma: str = "quick_check") -> str:
    try:
        rows = conn.execute(f"PRAGMA {pragma}").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "ok" if rows == [("ok",)] else str(rows[0][0])


def backup_now(source: sqlite3.Connection, backup_dir: Path, reason: str) -> Path:
    """Online backup, owner-only, verified, then rotated to ``BACKUPS_KEPT``."""
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = clock.file_stamp()
    target = backup_dir / f"{PREFIX}{stamp}-{reason}.db"
    _private_file(target)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
        # One self-contained file: reading it later must not leave a -wal/-shm beside it.
        dest.execute("PRAGMA journal_mode = DELETE")
        verdict = _check(dest)
    finally:
        dest.close()
    if verdict != "ok":
        with contextlib.suppress(OSError):
            target.unlink()
        raise BackupFailedCheck(target, verdict)
    _fsync(target)
    for old in list_backups(backup_dir)[:-BACKUPS_KEPT]:
        with contextlib.suppress(OSError):
            old.path.unlink()
    return target


def backup_if_stale(source: sqlite3.Connection, backup_dir: Path, max_age_s: float = DAILY_S) -> Path | None:
    """The routine backup: only when the newest one is older than ``max_age_s``."""
    backups = list_backups(backup_dir)
    if backups and (clock.now() - backups[-1].taken).total_seconds() < max_age_s:
        return None
    return backup_now(source, backup_dir, "daily")


def resolve(workspace: Path, name: str) -> Path:
    """A backup given as a path, or as a name inside the workspace's backups folder."""
    given = Path(name).expanduser()
    for candidate in (given, Path(workspace) / BACKUP_DIRNAME / given.name):
        if candidate.is_file():
            return candidate
    raise UsageError(f"{name}: no such backup (see `attune backups`)")


@dataclass(frozen=True, slots=True)
class Restored:
    source: Path
    previous: Path | None  # the replaced workspace, kept as a backup


def restore(workspace: Path, backup: Path, *, in_use: bool = False) -> Restored:
    """Replace the workspace database with a verified copy of ``backup``.

    ``in_use``: the caller found another process with the workspace open
    (``connection.workspace_in_use``); swapping the file under it would lose
    its writes or damage the file, so refuse.
    """
    workspace = Path(workspace)
    db = workspace / DB_FILENAME
    backup_dir = workspace / BACKUP_DIRNAME
    if in_use:
        raise WorkspaceError(f"{db}: the workspace is open in another Attune; close it there first")
    # immutable: nothing writes a backup, and a read must not leave files beside it.
    src = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        verdict = _check(src, "integrity_check")
        if verdict != "ok":
            raise WorkspaceError(f"{backup}: the backup failed its integrity check ({verdict}); nothing was changed")
        workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = workspace / f".{DB_FILENAME}.restore-{os.getpid()}-{secrets.token_hex(4)}"
        _private_file(staged)
        dest = sqlite3.connect(staged)
        try:
            src.backup(dest)
            verdict = _check(dest, "integrity_check")
            # A single file: the swap below must not leave a WAL behind it.
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()
    finally:
        src.close()
    if verdict != "ok":
        staged.unlink()
        raise WorkspaceError(f"{backup}: the restored copy failed its integrity check ({verdict}); nothing was changed")
    _fsync(staged)
    previous = _keep_current(db, backup_dir)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{db}{suffix}")
    os.replace(staged, db)
    _fsync_dir(workspace)
    return Restored(source=backup, previous=previous)


def _keep_current(db: Path, backup_dir: Path) -> Path | None:
    """Keep the file being replaced: as a verified backup when it can be read, else as is."""
    if not db.exists() or db.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=rw", uri=True)
        try:
            if _check(conn) == "ok":
                kept = backup_now(conn, backup_dir, "before-restore")
                # Everything committed is now in the backup; the log may go.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return kept
        finally:
            conn.close()
    except (sqlite3.DatabaseError, WorkspaceError):
        pass
    # Damaged: keep the bytes as they are (with their log) for whoever looks into it.
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = clock.file_stamp()
    kept = backup_dir / f"damaged-{stamp}.db"
    for suffix in ("", "-wal"):
        src = Path(f"{db}{suffix}")
        if src.exists():
            dst = Path(f"{kept}{suffix}")
            _private_file(dst)
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                while block := fin.read(1024 * 1024):
                    fout.write(block)
                fout.flush()
                os.fsync(fout.fileno())
    return kept
