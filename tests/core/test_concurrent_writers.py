"""Two writers wait their turn: concurrent imports, and a decision during an import.

Before: the import re-took the write lock the instant it committed, so a
second import (or a CLI decision) polling with SQLite's back-off of up to
100 ms crashed with "database is locked" after 5 s. Now a write transaction
polls every few ms for up to a minute and the import pauses between batches.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli import main
from core.errors import WorkspaceBusy
from core.store import open_store
from core.store import connection

ATTUNE = Path(sys.executable).with_name("attune")
FILES_EACH = 4000


def _write_sessions(folder: Path, tag: str, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"{tag}-{i:05d}.txt").write_text(
            f"Therapist: Hello {tag} {i}, how has this week been for you so far?\n"
            f"Client: It was hard, session {i} of {tag}, I could not sleep much.\n"
            f"Therapist: Tell me more about the nights, {tag} {i}.\n",
            encoding="utf-8",
        )


@pytest.mark.slow
def test_two_concurrent_imports_of_4000_files_each_both_finish_and_import_every_file_once(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    open_store(home).close()
    _write_sessions(tmp_path / "a", "a", FILES_EACH)
    _write_sessions(tmp_path / "b", "b", FILES_EACH)
    started = time.monotonic()
    runs = [
        subprocess.Popen([str(ATTUNE), "--home", str(home), "import", str(tmp_path / name)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    took = time.monotonic() - started
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-2000:]
        assert err == ""
        assert out.splitlines()[-1] == f"{FILES_EACH} transcripts imported, 0 failed"
    with open_store(home) as store:
        rows = store.conn.execute("SELECT source_path, count(*) FROM transcripts GROUP BY source_path").fetchall()
    assert len(rows) == 2 * FILES_EACH
    assert {n for _, n in rows} == {1}
    print(f"two imports of {FILES_EACH} files each: {took:.1f} s")


def test_a_decision_during_an_import_waits_its_turn(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    seed_folder = tmp_path / "seed"
    _write_sessions(seed_folder, "seed", 2)
    assert main(["--home", str(home), "import", str(seed_folder)]) == 0
    capsys.readouterr()
    _write_sessions(tmp_path / "bulk", "bulk", 1500)
    importer = subprocess.Popen([str(ATTUNE), "--home", str(home), "import", str(tmp_path / "bulk")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        decided = 0
        while importer.poll() is None and decided < 10:
            assert main(["--home", str(home), "rate", "1", "--rating", str(1 + decided % 5), "--rater", "lee"]) == 0, \
                capsys.readouterr().err
            decided += 1
    finally:
        _, err = importer.communicate(timeout=300)
    assert importer.returncode == 0, err
    assert decided >= 1


GREEDY = r"""
import sys, time
from pathlib import Path
from core.store import connection, open_store
connection.YIELD_S = float(sys.argv[2])
store = open_store(Path(sys.argv[1]))
end = time.monotonic() + 4
while time.monotonic() < end:
    store.begin()
    print("holding", flush=True)  # the lock is held now: the parent starts waiting for it
    time.sleep(0.5)  # one import batch with the lock held
    store.conn.execute("COMMIT")
    store.let_others_write()
store.close()
"""


def _wait_behind_greedy_writer(home: Path, yield_s: float) -> float:
    child = subprocess.Popen([sys.executable, "-c", GREEDY, str(home), str(yield_s)], stdout=subprocess.PIPE,
                             text=True, cwd=Path(__file__).resolve().parents[2],
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        with open_store(home) as store:
            started = time.monotonic()
            with store.transaction():
                pass
            return time.monotonic() - started
    finally:
        child.terminate()
        child.wait(timeout=60)
        child.stdout.close()


def test_a_writer_gets_its_turn_at_the_next_batch_of_a_long_writer(tmp_path: Path) -> None:
    """The mechanism itself: the waiter gets in at the writer's next pause, not when it finishes."""
    home = tmp_path / "ws"
    open_store(home).close()
    assert _wait_behind_greedy_writer(home, connection.YIELD_S) < 1.5


def test_a_write_lock_held_too_long_is_one_clear_line(tmp_path: Path, monkeypatch, capsys) -> None:
    home = tmp_path / "ws"
    open_store(home).close()
    blocker = open_store(home)
    blocker.conn.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(connection, "WRITE_WAIT_S", 0.3)
    try:
        with open_store(home) as store, pytest.raises(WorkspaceBusy, match="the workspace is busy"):
            with store.transaction():
                pass
        assert main(["--home", str(home), "rater", "Dr Lee"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "the workspace is busy" in err[0], err
    finally:
        blocker.conn.rollback()
        blocker.close()
