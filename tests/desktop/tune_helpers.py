"""Shared by the Tune page tests: a workspace with a dataset, open the page, answer the egress dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop.egress_dialog import EgressDialog


def workspace_with_dataset(tmp_path: Path) -> Path:
    """A workspace of 12 sessions with dataset "d" (60/20/20), for the local Tune page tests."""
    from core.datasets.builder import build_dataset
    from core.datasets.rules import DatasetRules
    from tests.core.datasets_fixtures import open_populated

    ws = tmp_path / "ws"
    with open_populated(ws, n_sessions=12) as store:
        build_dataset(store, "d", DatasetRules(split=(60, 20, 20)))
    return ws


def open_page(qtbot, home: Path, *, first_delay_s: float = 0.05, max_delay_s: float = 0.4, vertex: bool = True):
    """A Tune page on ``home`` with its own task manager; Vertex polls back off from ``first_delay_s``."""
    from desktop.operations import OpBus, install
    from desktop.taskman import TaskManager
    from desktop.tuning import TunePage

    taskman = TaskManager(home)
    install(taskman, OpBus())
    page = TunePage()
    # before the first poll, which waits for the event loop
    page.follower.first_delay_s, page.follower.max_delay_s = first_delay_s, max_delay_s
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.dataset_combo.count() == 1)
    if vertex:
        page.backend_combo.setCurrentIndex(page.backend_combo.findData("vertex"))
    return page, taskman


def answer_egress(which: str, seen: list[EgressDialog]) -> QTimer:
    """Press ``send_button`` or ``cancel_button`` of each egress dialog as soon as it is shown."""
    timer = QTimer()
    timer.setInterval(20)

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, EgressDialog) and dialog not in seen:
            seen.append(dialog)
            getattr(dialog, which).click()

    timer.timeout.connect(poll)
    timer.start()
    return timer


def job_state(page, row: int = 0) -> str:
    item = page.table.item(row, 3)
    return item.text() if item is not None else ""


def close_page(qtbot, page, taskman) -> None:
    """Close the page, let every database job it queued call back, then stop the task manager
    (a callback left queued would otherwise run in a later test, on deleted widgets)."""
    from tests.desktop.conftest import drain

    page.close()
    drain(qtbot, taskman)
    taskman.shutdown()
