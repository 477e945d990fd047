"""Help ▸ About names the newest backup; a raw database error is the same one line as on the command line."""

from __future__ import annotations

import sqlite3

from PySide6.QtWidgets import QApplication, QMessageBox

from core.store import open_store
from desktop.errors import show_exception


def _dialogs(name: str) -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == name and w.isVisible()]


def test_about_names_the_newest_backup(qtbot, window, small_workspace) -> None:
    with open_store(small_workspace.home) as store:
        backup = store.backup("manual")
    about = next(a for a in window.menuBar().actions() if a.text() == "&Help").menu()
    next(a for a in about.actions() if a.objectName() == "aboutAction").trigger()
    qtbot.waitUntil(lambda: bool(_dialogs("aboutDialog")))
    text = _dialogs("aboutDialog")[0].text()
    assert f"Newest backup: {backup.name}" in text
    assert str(small_workspace.home) in text
    for box in _dialogs("aboutDialog"):
        box.close()


def test_a_database_error_names_the_newest_backup(qtbot, window, small_workspace) -> None:
    with open_store(small_workspace.home) as store:
        backup = store.backup("manual")
    show_exception(window, sqlite3.DatabaseError("database disk image is malformed"))
    qtbot.waitUntil(lambda: bool(_dialogs("errorDialog")))
    box = _dialogs("errorDialog")[0]
    assert "could not be read (database disk image is malformed)" in box.text()
    assert backup.name in box.text()
    assert box.detailedText() == ""  # not a bug report: no traceback
    box.close()
