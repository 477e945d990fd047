"""A damaged workspace: the check runs beside the first reads, and stops all work."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from core.store import open_store
from core.workspace import DB_FILENAME
from tests.desktop.conftest import build_workspace, session
from tests.store_damage import corrupt_pages


def _error_texts() -> list[str]:
    return [
        w.text()
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()
    ]


def test_damaged_workspace_is_reported_and_the_window_stops_working(qtbot, tmp_path: Path) -> None:
    from desktop.app import create_main_window

    home = tmp_path / "ws"
    build_workspace(home, [session(f"Session {i}", f"topic{i}") for i in range(120)])
    with open_store(home) as store:  # mark the demos as seen so start-up writes nothing
        from core.store.transcripts import set_setting

        set_setting(store, "demo_imported", True)
    corrupt_pages(home / DB_FILENAME, at=1 / 2, count=4)

    win = create_main_window(home=home)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: any("integrity check" in t for t in _error_texts()), timeout=10_000)
    assert str(home / DB_FILENAME) in next(t for t in _error_texts() if "integrity check" in t)
    assert not win.centralWidget().isEnabled()
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox):
            w.close()
    win.close()
    win.taskman.shutdown()


def test_healthy_workspace_passes_its_check_and_stays_usable(qtbot, tmp_path: Path) -> None:
    from desktop.app import create_main_window

    home = tmp_path / "ws"
    build_workspace(home, [session("One", "work")])
    win = create_main_window(home=home)
    qtbot.addWidget(win)
    verdict = win.taskman.integrity_verdict()
    qtbot.waitUntil(verdict.done, timeout=10_000)
    assert verdict.exception() is None
    assert win.centralWidget().isEnabled()
    win.close()
    win.taskman.shutdown()
