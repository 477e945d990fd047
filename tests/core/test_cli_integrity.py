"""The command line's integrity check: skipped for reads, once per unchanged file for writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cli import EXIT_FAILED, EXIT_OK, main
from cli import common
from core.store import open_store
from core.workspace import DB_FILENAME
from tests.store_damage import corrupt_pages


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    with open_store(ws) as store, store.transaction() as conn:
        for t in range(30):
            cur = conn.execute(
                "INSERT INTO transcripts (title, source_path, content_hash, format, imported_at, turn_count) "
                "VALUES (?, 'x', ?, 'text', '2026-01-01', 40)", [f"t{t}", f"h{t}"])
            conn.executemany(
                "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
                "VALUES (?, ?, ?, 'S', ?, ?, 8)",
                [(cur.lastrowid, k, "therapist" if k % 2 else "client", f"words {t} {k} " * 40, "raw")
                 for k in range(40)])
    return ws


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = common.verify_integrity

    def counting(path: Path) -> None:
        calls.append(path)
        real(path)

    monkeypatch.setattr(common, "verify_integrity", counting)
    return calls


def test_reading_commands_skip_the_check(workspace: Path, checks: list[Path]) -> None:
    for argv in (["stats"], ["transcripts"], ["dump"], ["decisions"], ["search", "words"], ["dataset", "list"]):
        assert main(["--home", str(workspace), *argv]) == EXIT_OK, argv
    assert checks == []


def test_a_writing_command_checks_once_per_unchanged_file(workspace: Path, checks: list[Path]) -> None:
    assert main(["--home", str(workspace), "rater"]) == EXIT_OK  # may write: checked
    assert len(checks) == 1
    assert main(["--home", str(workspace), "rater"]) == EXIT_OK  # nothing changed since: not again
    assert len(checks) == 1
    with sqlite3.connect(workspace / DB_FILENAME) as conn:  # any committed write…
        conn.execute("UPDATE transcripts SET title = 'renamed' WHERE id = 1")
    assert main(["--home", str(workspace), "rater"]) == EXIT_OK  # …is checked again
    assert len(checks) == 2


def test_a_damaged_workspace_is_refused_before_a_write(workspace: Path, capsys) -> None:
    db = workspace / DB_FILENAME
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert main(["--home", str(workspace), "rater"]) == EXIT_OK  # a clean check remembered…
    corrupt_pages(db)
    capsys.readouterr()
    # …is not trusted once the file changed under it.
    assert main(["--home", str(workspace), "rater", "someone"]) == EXIT_FAILED
    assert "failed its integrity check" in capsys.readouterr().err


def test_only_reads_knows_actions() -> None:
    import argparse

    def ns(**kw):
        return argparse.Namespace(**kw)

    assert common.only_reads(ns(command="stats"))
    assert common.only_reads(ns(command="transcripts", transcripts_command=None))
    assert not common.only_reads(ns(command="transcripts", transcripts_command="delete"))
    assert common.only_reads(ns(command="dataset", dataset_command="show"))
    assert not common.only_reads(ns(command="dataset", dataset_command="build"))
    assert not common.only_reads(ns(command="some-new-command"))
