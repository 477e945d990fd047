"""The main window: File ▸ Egress log shows what left the machine; Vertex AI jobs left unfinished when the
app closed are polled again from start-up, without opening the Tune tab (fake Google)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from core import egress
from core import gemini_connection as gconn
from core.store import Store, egress_log
from core.store import jobs as job_store
from core.tuning import vertex
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import fake, gstore  # noqa: F401 - fixtures


def _open_window(qtbot, home: Path):
    from desktop.app import create_main_window
    from desktop.raters import RaterDialog

    win = create_main_window(home=home)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.rater_dialog is not None and win.rater_dialog.isVisible())
    dialog: RaterDialog = win.rater_dialog
    dialog.name.setEditText("Dr Test")
    dialog.buttons.accepted.emit()
    return win


def test_unfinished_job_followed_from_start_up_and_the_log_in_the_file_menu(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path, monkeypatch) -> None:
    from desktop.egress_log_dialog import EgressLogDialog
    from desktop.tuning import startup

    monkeypatch.setattr(startup, "FOLLOW_AFTER_MS", 50)
    conn = gconn.load(gstore)
    settings = vertex.TuneSettings(epochs=1)
    job = vertex.start(gstore, egress.confirm(vertex.plan(gstore, "d", conn, settings), yes=True), conn, settings)
    fake.tune_polls = 1
    win = _open_window(qtbot, tmp_path / "ws")
    try:
        qtbot.waitUntil(lambda: job_store.get_job(gstore, job.id).state == "succeeded", timeout=20_000)
        assert win.tabs.currentIndex() == 0  # the Curate tab: the Tune page was never asked for
        assert job_store.get_job(gstore, job.id).system_name == f"vertex-job-{job.id}"

        (action,) = [a for a in win.menuBar().actions()[0].menu().actions() if a.objectName() == "egressLogAction"]
        action.trigger()
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, EgressLogDialog))
        entries = egress_log.entries(gstore)
        qtbot.waitUntil(lambda: dialog.table.rowCount() == len(entries) == 2, timeout=10_000)
        assert dialog.table.item(0, 6).toolTip() == entries[0].content_hash
        dialog.close()
    finally:
        win.close()
        win.taskman.shutdown()


def test_empty_log_says_nothing_left(qtbot, window) -> None:
    from desktop.egress_log_dialog import EgressLogDialog

    (action,) = [a for a in window.menuBar().actions()[0].menu().actions() if a.objectName() == "egressLogAction"]
    action.trigger()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, EgressLogDialog))
    qtbot.waitUntil(lambda: dialog.summary.text() == "Nothing has left this machine.", timeout=10_000)
    assert dialog.table.rowCount() == 0
    dialog.close()
