"""A workspace is opened, not silently created; database errors are one line naming the newest backup."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main
from core.errors import WorkspaceMissing
from core.store import open_store
from core import transcripts as transcript_store  # the module the command line calls
from core.workspace import BACKUP_DIRNAME, DB_FILENAME

ATTUNE = Path(sys.executable).with_name("attune")
DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def test_a_typo_in_home_exits_non_zero_with_one_line_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    result = subprocess.run([str(ATTUNE), "--home", str(typo), "stats"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "no Attune workspace here" in lines[0] and str(typo) in lines[0]
    assert not typo.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["stats"], ["transcripts"], ["decisions"], ["dataset", "list"],
                                  ["systems"], ["backups", "--now"], ["rater", "Dr Lee"]])
def test_no_command_but_init_and_import_creates_a_workspace(tmp_path: Path, capsys, argv) -> None:
    home = tmp_path / "ws"
    assert main(["--home", str(home), *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Attune workspace here" in err[0], err
    assert not home.exists()


def test_init_and_import_create_one(tmp_path: Path, capsys) -> None:
    assert main(["--home", str(tmp_path / "a"), "init"]) == 0
    assert "new workspace created" in capsys.readouterr().out
    assert (tmp_path / "a" / DB_FILENAME).exists()
    assert main(["--home", str(tmp_path / "a"), "init"]) == 0
    assert "already a workspace" in capsys.readouterr().out
    if DEMO.is_dir():
        assert main(["--home", str(tmp_path / "b"), "import", str(DEMO)]) == 0
        assert main(["--home", str(tmp_path / "b"), "stats"]) == 0


def test_an_empty_file_is_not_a_new_workspace(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    home.mkdir()
    (home / DB_FILENAME).write_bytes(b"")
    assert main(["--home", str(home), "stats"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty (0 bytes)" in err[0] and "no backup exists" in err[0]
    assert (home / DB_FILENAME).stat().st_size == 0


def test_an_emptied_workspace_names_its_newest_backup_and_is_never_reinitialised(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    with open_store(home) as store:
        backup = store.backup("manual")
    (home / DB_FILENAME).write_bytes(b"")
    with pytest.raises(WorkspaceMissing, match=backup.name):
        open_store(home)  # not even where creating is allowed (the GUI's start)
    assert main(["--home", str(home), "stats"]) == 1
    assert f"attune restore {backup.name}" in capsys.readouterr().err
    assert main(["--home", str(home), "restore", backup.name]) == 0
    assert main(["--home", str(home), "stats"]) == 0


def test_a_database_error_anywhere_is_one_line_naming_the_newest_backup(tmp_path: Path, capsys, monkeypatch) -> None:
    home = tmp_path / "ws"
    with open_store(home) as store:
        backup = store.backup("manual")

    def damaged(*_a, **_k):
        # What a damaged index that passed quick_check raises mid-query.
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(transcript_store, "list_transcripts", damaged)
    assert main(["--home", str(home), "transcripts"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "could not be read (database disk image is malformed)" in err[0]
    assert str(home / BACKUP_DIRNAME / backup.name) in err[0]
    assert "Traceback" not in "".join(err)


def test_a_lock_timeout_is_one_line_too(tmp_path: Path, capsys, monkeypatch) -> None:
    home = tmp_path / "ws"
    open_store(home).close()

    def locked(*_a, **_k):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(transcript_store, "list_transcripts", locked)
    assert main(["--home", str(home), "transcripts"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the workspace is busy" in err[0], err
