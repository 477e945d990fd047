"""The egress confirmation dialog shows what the manifest says and sends nothing on Cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog

from core import egress
from core.store import Store
from core.store import egress_log
from desktop.egress_dialog import EgressDialog, ask_to_send
from tests.fakes.gemini_workspace import make_workspace

DEST = egress.Destination("vertex", project="proj", region="us-central1", bucket="bkt", prefix="attune")


@pytest.fixture
def manifest(tmp_path: Path) -> Iterator[tuple[Store, egress.Manifest]]:
    store = make_workspace(tmp_path / "ws")
    try:
        yield store, egress.upload_manifest(store, "d", DEST)
    finally:
        store.close()


def test_dialog_shows_destination_counts_hits_and_sample(qtbot, manifest) -> None:
    _, m = manifest
    dialog = EgressDialog(m)
    qtbot.addWidget(dialog)
    f = dialog.fields
    assert f["project"].text() == "proj"
    assert f["region"].text() == "us-central1"
    assert f["bucket"].text() == "gs://bkt/attune"
    assert f["examples"].text() == str(m.examples) and m.examples > 0
    assert f["characters"].text() == str(m.characters)
    counts = m.counts()
    assert f["scan"].text() == ", ".join(f"{k} {n}" for k, n in counts.items())
    assert counts["email"] > 0 and counts["name"] > 0
    assert dialog.hits.count() == len(m.hits)
    assert "dana.evans@example.com" in "\n".join(dialog.hits.item(i).text() for i in range(dialog.hits.count()))
    assert dialog.sample.toPlainText() == m.sample
    assert f["project"].textFormat() == Qt.TextFormat.PlainText
    assert dialog.cancel_button.isDefault() and not dialog.send_button.isDefault()


def _press_later(qtbot, which: str) -> None:
    def press() -> None:
        from PySide6.QtWidgets import QApplication
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, EgressDialog)
        getattr(dialog, which).click()
    QTimer.singleShot(0, press)


def test_cancel_refuses_and_logs_nothing(qtbot, manifest) -> None:
    store, m = manifest
    _press_later(qtbot, "cancel_button")
    with pytest.raises(egress.EgressRefused):
        egress.confirm(m, ask=ask_to_send, via="dialog")
    assert egress_log.entries(store) == []


def test_send_gives_an_approval(qtbot, manifest) -> None:
    _, m = manifest
    _press_later(qtbot, "send_button")
    approval = egress.confirm(m, ask=ask_to_send, via="dialog")
    assert approval.manifest is m and approval.confirmed_by == "dialog"


def test_enter_does_not_send(qtbot, manifest) -> None:
    _, m = manifest
    dialog = EgressDialog(m)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Rejected
