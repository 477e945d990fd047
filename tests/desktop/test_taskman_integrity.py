"""The integrity check runs beside the database thread: reads never queue behind it, writes do."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.errors import WorkspaceCorrupt
from core.store import open_store


@pytest.fixture
def slow_check(monkeypatch: pytest.MonkeyPatch):
    """verify_integrity blocks until the test releases it, then passes or fails as told."""
    import desktop.taskman as taskman_module

    release = threading.Event()
    outcome: dict[str, BaseException | None] = {"error": None}

    def check(path: Path) -> None:
        assert release.wait(30)
        if outcome["error"] is not None:
            raise outcome["error"]

    monkeypatch.setattr(taskman_module, "verify_integrity", check)
    return release, outcome


def _taskman(qapp, tmp_path: Path):
    from desktop.taskman import TaskManager

    open_store(tmp_path / "ws").close()
    return TaskManager(tmp_path / "ws")


def test_reads_after_the_verdict_was_asked_for_do_not_wait_for_the_check(qapp, tmp_path: Path, slow_check) -> None:
    release, _ = slow_check
    tm = _taskman(qapp, tmp_path)
    try:
        verdict = tm.integrity_verdict()
        read = tm.run_on_db(lambda store: store.conn.execute("SELECT count(*) FROM turns").fetchone()[0])
        assert read.result(timeout=10) == 0  # the check is still running
        assert not verdict.done()
        write = tm.run_on_db(lambda store: "written", writes=True)
        assert not write.done()
        release.set()
        assert verdict.result(timeout=10) is None
        assert write.result(timeout=10) == "written"
    finally:
        release.set()
        tm.shutdown()


def test_a_failed_check_fails_the_verdict_and_refuses_writes(qapp, tmp_path: Path, slow_check) -> None:
    release, outcome = slow_check
    outcome["error"] = WorkspaceCorrupt("attune.db: the database failed its integrity check")
    tm = _taskman(qapp, tmp_path)
    try:
        verdict = tm.integrity_verdict()
        release.set()
        with pytest.raises(WorkspaceCorrupt):
            verdict.result(timeout=10)
        with pytest.raises(WorkspaceCorrupt):
            tm.run_on_db(lambda store: "written", writes=True).result(timeout=10)
    finally:
        tm.shutdown()
