"""Routine backups, `attune backups` / `attune restore`, and a write-ahead log deleted under an open workspace."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main
from core.errors import WorkspaceError
from core.store import backups, open_store
from core.store import datasets as ds_store
from core.store import transcripts as transcript_store
from core.store.connection import lost_wal_frames
from core.workspace import BACKUP_DIRNAME, DB_FILENAME
from tests.core.datasets_fixtures import open_populated
from tests.store_damage import corrupt_pages

REPO = Path(__file__).resolve().parents[2]


def _count(home: Path) -> int:
    with open_store(home) as store:
        return store.conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]


def _backups(home: Path, reason: str | None = None) -> list[backups.BackupInfo]:
    return [b for b in backups.list_backups(home / BACKUP_DIRNAME) if reason is None or b.reason == reason]


def test_backups_lists_newest_first_and_restore_brings_the_data_back(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    open_populated(home, n_sessions=12).close()
    assert main(["--home", str(home), "backups", "--now"]) == 0
    capsys.readouterr()
    manual = _backups(home, "manual")[-1]
    assert stat.S_IMODE(manual.path.stat().st_mode) == 0o600
    with open_store(home) as store:
        transcript_store.delete_transcripts(store, [1, 2, 3])
    assert _count(home) == 9
    assert [b.reason for b in _backups(home)][-1] == "before-delete"

    assert main(["--home", str(home), "backups"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["backup", "taken", "why", "size"]
    assert "before-delete" in out[2] and "manual" in out[3]
    assert out[-1] == f"newest: {_backups(home)[-1].path}"

    assert main(["--home", str(home), "restore", manual.path.name]) == 0
    assert "restored from" in capsys.readouterr().out
    assert _count(home) == 12
    kept = _backups(home, "before-restore")
    assert len(kept) == 1  # the replaced workspace is itself a backup
    with sqlite3.connect(kept[0].path) as c:
        assert c.execute("SELECT count(*) FROM transcripts").fetchone() == (9,)
    # Backups are single files: nothing was left beside them by reading them.
    assert not list((home / BACKUP_DIRNAME).glob("*-wal")) and not list((home / BACKUP_DIRNAME).glob("*-shm"))


def test_restore_replaces_a_damaged_workspace_and_keeps_its_bytes(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    with open_populated(home, n_sessions=40) as store:
        good = store.backup("manual")
    corrupt_pages(home / DB_FILENAME, at=0.05, count=40)
    assert main(["--home", str(home), "stats"]) == 1
    assert good.name in capsys.readouterr().err
    assert main(["--home", str(home), "restore", str(good)]) == 0
    assert main(["--home", str(home), "stats"]) == 0
    assert len(list((home / BACKUP_DIRNAME).glob("damaged-*.db"))) == 1


def test_restore_refuses_a_damaged_backup_and_changes_nothing(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    with open_populated(home, n_sessions=40) as store:
        bad = store.backup("manual")
    corrupt_pages(bad, at=0.05, count=40)
    before = (home / DB_FILENAME).read_bytes()
    assert main(["--home", str(home), "restore", bad.name]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "failed its integrity check" in err[0]
    assert (home / DB_FILENAME).read_bytes() == before
    assert main(["--home", str(home), "restore", "no-such.db"]) == 2
    assert "no such backup" in capsys.readouterr().err


def test_destructive_steps_back_up_first_and_the_rotation_is_bounded(tmp_path: Path) -> None:
    from core.datasets import DatasetRules, build_dataset

    home = tmp_path / "ws"
    with open_populated(home, n_sessions=20) as store:
        for n in range(backups.BACKUPS_KEPT + 2):
            build_dataset(store, f"d{n}", DatasetRules(seed=n))
            ds_store.delete_dataset(store, f"d{n}")
    found = _backups(home)
    assert len(found) == backups.BACKUPS_KEPT
    assert all(b.reason == "before-delete" for b in found)
    with sqlite3.connect(found[-1].path) as c:  # the last backup still holds the last dataset
        assert c.execute("SELECT name FROM datasets").fetchall() == [(f"d{backups.BACKUPS_KEPT + 1}",)]


def test_the_daily_backup_comes_when_the_newest_is_over_a_day_old(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    open_populated(home, n_sessions=5).close()
    open_store(home).close()  # the first open that finds data
    first = _backups(home, "daily")
    assert len(first) == 1
    # Age it: rename it as if taken two days ago.
    old = first[0].path.with_name("attune-20000101T000000000000Z-daily.db")
    first[0].path.rename(old)
    open_store(home).close()
    assert len(_backups(home, "daily")) == 2


# A write-ahead log deleted under an open workspace ###########################

HOLDER = r"""
import os, sys
from pathlib import Path
from core.store import open_store
from core.store import transcripts as transcript_store
from tests.core.datasets_fixtures import populate
store = open_store(Path(sys.argv[1]))
store.conn.execute("PRAGMA wal_autocheckpoint = 0")  # keep the new rows in the log
populate(store, 15, seed=11)
print("committed", flush=True)
sys.stdin.readline()  # the parent deletes the log meanwhile
if sys.argv[2] == "write":
    try:
        populate(store, 1, seed=12)
    except Exception as exc:
        print(type(exc).__name__, exc, flush=True)
store.close()
print("closed", flush=True)
"""


def _holder(home: Path, then: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), then], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    assert child.stdout is not None and child.stdout.readline().strip() == "committed"
    return child


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    open_populated(home, n_sessions=5).close()
    open_store(home).close()  # takes the routine backup
    return home


def test_a_wal_deleted_under_a_killed_workspace_is_reported_at_the_next_command(home: Path, capsys) -> None:
    child = _holder(home, "wait")
    os.unlink(home / f"{DB_FILENAME}-wal")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert lost_wal_frames(home / DB_FILENAME) > 0
    assert main(["--home", str(home), "stats"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "write-ahead log (attune.db-wal) was deleted" in err[0] and "are lost" in err[0]
    assert "the newest backup is" in err[0]
    # Said once: the workspace opens again, as it was at the last checkpoint.
    assert main(["--home", str(home), "stats"]) == 0
    assert _count(home) == 5


def test_a_wal_deleted_under_a_live_workspace_names_the_process_and_loses_nothing(home: Path, capsys) -> None:
    child = _holder(home, "wait")
    try:
        os.unlink(home / f"{DB_FILENAME}-wal")
        assert main(["--home", str(home), "stats"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        if sys.platform.startswith("linux") or sys.platform == "darwin":
            assert f"process {child.pid}" in err[0] and "close Attune there" in err[0]
    finally:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=30)
    # Closed normally, the holder checkpointed its (deleted) log into the file.
    assert _count(home) == 20


def test_the_open_store_refuses_to_write_once_its_wal_is_gone_and_writes_it_back(home: Path) -> None:
    child = _holder(home, "write")
    os.unlink(home / f"{DB_FILENAME}-wal")
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("\n")
    child.stdin.flush()
    said = child.stdout.readline()
    child.wait(timeout=30)
    assert said.startswith("WalLost") and "wrote the committed changes back" in said
    assert _count(home) == 20


def test_restore_refuses_while_another_process_has_the_workspace_open(home: Path, capsys) -> None:
    if not (sys.platform.startswith("linux") or sys.platform == "darwin"):
        pytest.skip("finding another process's lock needs POSIX locks")
    backup = _backups(home)[-1]
    child = _holder(home, "wait")
    try:
        assert main(["--home", str(home), "restore", backup.path.name]) == 1
        assert "open in another Attune" in capsys.readouterr().err
    finally:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=30)
    assert _count(home) == 20


def test_a_backup_that_fails_its_check_is_dropped_and_the_older_ones_kept(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "ws"
    with open_populated(home, n_sessions=5) as store:
        before = _backups(home)
        monkeypatch.setattr(backups, "_check", lambda conn, pragma="quick_check": "page 3 is never used")
        with pytest.raises(WorkspaceError, match="failed its check"):
            store.backup("manual")
    assert _backups(home) == before


def test_the_routine_backup_of_a_damaged_file_reports_the_damage_and_keeps_the_good_backups(tmp_path: Path) -> None:
    from core.errors import WorkspaceCorrupt

    home = tmp_path / "ws"
    with open_populated(home, n_sessions=40) as store:
        good = store.backup("manual")
    aged = good.with_name("attune-20000101T000000000000Z-manual.db")
    good.rename(aged)  # over a day old: the next open backs up
    corrupt_pages(home / DB_FILENAME, at=0.4, count=20)  # past the schema: the file still opens
    with pytest.raises(WorkspaceCorrupt, match="failed its integrity check") as info:
        open_store(home, check=False)  # as the CLI's read-only commands open
    assert aged.name in str(info.value)
    assert [b.path for b in _backups(home)] == [aged]
