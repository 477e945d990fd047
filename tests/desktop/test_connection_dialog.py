"""The connection settings dialog tests the connection against the fake Google and saves it."""

from __future__ import annotations

from pathlib import Path

from core import gemini_connection as gconn
from core.store import Store
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import fake, gstore  # noqa: F401 - fixtures


def test_test_and_save(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path, monkeypatch) -> None:
    from desktop.connection_dialog import ConnectionDialog
    from desktop.operations import OpBus, install
    from desktop.taskman import TaskManager

    taskman = TaskManager(tmp_path / "ws")
    install(taskman, OpBus())
    try:
        dialog = ConnectionDialog()
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.project.text() == "proj")
        assert dialog.bucket.text() == "bkt" and dialog.auth.currentData() == "access_token"
        dialog.test_button.click()
        qtbot.waitUntil(lambda: "bucket" in dialog.result_label.text(), timeout=20_000)
        assert "settings" in dialog.result_label.text()
        dialog.bucket.setText("gs://other-bucket/")
        dialog.save_button.click()
        qtbot.waitUntil(lambda: gconn.load(gstore).bucket == "other-bucket", timeout=10_000)
    finally:
        taskman.shutdown()
