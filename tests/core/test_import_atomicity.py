"""A failure while writing an import never leaves part of a file in the workspace.

The pipeline writes files inside a batch transaction without a SAVEPOINT per
file (see ``core/importing.py`` for why); these tests pin down that a write
error still rolls back to a file boundary and stops the import.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core import importing
from core.store import transcripts as transcript_store


def _sessions(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        path = folder / f"s{i:02d}.txt"
        path.write_text(
            "\n".join(f"{'THERAPIST' if k % 2 == 0 else 'CLIENT'}: session {i} line {k} words" for k in range(6))
            + "\n"
        )
        paths.append(path)
    return paths


def _consistent(conn: sqlite3.Connection) -> None:
    """Every stored transcript is complete and every log line points at one."""
    mismatched = conn.execute(
        "SELECT t.id FROM transcripts t LEFT JOIN turns u ON u.transcript_id = t.id "
        "GROUP BY t.id HAVING count(u.id) != t.turn_count"
    ).fetchall()
    assert mismatched == []
    assert conn.execute(
        "SELECT count(*) FROM turns WHERE transcript_id NOT IN (SELECT id FROM transcripts)"
    ).fetchone() == (0,)
    assert conn.execute(
        "SELECT count(*) FROM import_log WHERE status = 'imported' AND transcript_id IS NULL"
    ).fetchone() == (0,)


@pytest.mark.parametrize("commit_every_s", [0.0, 3600.0], ids=["commit-after-each-file", "one-batch"])
def test_write_error_mid_file_leaves_only_whole_files(
    store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, commit_every_s: float
) -> None:
    files = _sessions(tmp_path / "in", 5)
    monkeypatch.setattr(importing, "COMMIT_EVERY_S", commit_every_s)
    real_insert = transcript_store.insert_transcript
    calls = {"n": 0}

    def insert_then_fail_on_third(store_, parsed, **kw):
        calls["n"] += 1
        tid = real_insert(store_, parsed, **kw)  # the turns are written…
        if calls["n"] == 3:
            raise sqlite3.OperationalError("disk I/O error")  # …then the write fails
        return tid

    monkeypatch.setattr(transcript_store, "insert_transcript", insert_then_fail_on_third)
    with pytest.raises(sqlite3.OperationalError):
        importing.import_paths(store, [tmp_path / "in"])

    assert not store.conn.in_transaction
    titles = [r[0] for r in store.conn.execute("SELECT title FROM transcripts ORDER BY id")]
    if commit_every_s == 0.0:
        assert titles == [files[0].stem, files[1].stem]  # committed batches survive whole
    else:
        assert titles == []  # the one open batch is rolled back whole
    _consistent(store.conn)


def test_unreadable_file_is_logged_and_the_rest_imported(store, tmp_path: Path) -> None:
    _sessions(tmp_path / "in", 3)
    bad = tmp_path / "in" / "s01b.txt"
    bad.write_bytes(b"\x00\x01\x02 binary \xff\xfe" * 50)
    report = importing.import_paths(store, [tmp_path / "in"])
    assert [f.path for f in report.failed] == [str(bad)]
    assert report.imported_transcripts == 3
    failed_log = store.conn.execute(
        "SELECT path, transcript_id FROM import_log WHERE status = 'failed'"
    ).fetchall()
    assert failed_log == [(str(bad), None)]
    _consistent(store.conn)
