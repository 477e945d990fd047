"""How errors reach the user: one dialog, the one-line message, details on demand."""

from __future__ import annotations

import logging
import sqlite3
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from core.errors import AttuneError
from core.store import describe_database_error

log = logging.getLogger(__name__)


def show_exception(parent: QWidget | None, exc: BaseException) -> None:
    log.error("operation failed", exc_info=exc)
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Attune")
    box.setTextFormat(Qt.TextFormat.PlainText)  # messages quote titles and file names: never markup
    if isinstance(exc, AttuneError):
        box.setText(str(exc))
    elif isinstance(exc, sqlite3.DatabaseError):
        # Damage the open-time check missed, or a lock wait that ran out: the
        # same one line as the command line's, naming the newest backup.
        box.setText(describe_database_error(exc))
    else:
        # Not one of ours: a bug. Say so, and keep the traceback for the report.
        box.setText(f"Something went wrong: {type(exc).__name__}: {exc}")
        box.setDetailedText("".join(traceback.format_exception(exc)))
    box.open()
