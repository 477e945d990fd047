"""Choosing why a turn is excluded, entirely from the keyboard.

Digits pick a reason at once; arrows + Enter work too; Tab reaches the
optional note; Esc cancels and nothing is written.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from core.curation import ExcludeReason


class ReasonPicker(QDialog):
    def __init__(self, parent: QWidget | None, *, count: int = 1) -> None:
        super().__init__(parent)
        self.setObjectName("reasonPicker")
        self.setWindowTitle("Exclude")
        self.setModal(True)
        what = "this turn" if count == 1 else f"{count} turns"
        heading = QLabel(f"Why exclude {what}?  Press 1–{len(ExcludeReason)}, or ↑↓ and Enter. Esc cancels.")
        heading.setWordWrap(True)
        self.reasons = QListWidget()
        self.reasons.setObjectName("reasonList")
        for n, reason in enumerate(ExcludeReason, start=1):
            item = QListWidgetItem(f"{n}   {reason.value}")
            self.reasons.addItem(item)
        self.reasons.setCurrentRow(0)
        rows = self.reasons.sizeHintForRow(0) * len(ExcludeReason) + 2 * self.reasons.frameWidth() + 4
        self.reasons.setFixedHeight(rows)
        self.reasons.itemActivated.connect(lambda _item: self.accept())
        self.reasons.installEventFilter(self)
        self.note = QLineEdit()
        self.note.setObjectName("reasonNote")
        self.note.setPlaceholderText("Optional note (Tab to reach it)")
        self.note.returnPressed.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.reasons)
        layout.addWidget(self.note)
        self.reasons.setFocus()
        self.resize(420, self.sizeHint().height())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Take the keyboard at once, so the first digit cannot reach the window.
        self.activateWindow()
        self.reasons.setFocus(Qt.FocusReason.PopupFocusReason)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # The list would use digits for type-ahead search and may ignore
        # Enter; here they pick and confirm.
        if obj is self.reasons and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            text = event.text()
            if text.isdigit() and 1 <= int(text) <= self.reasons.count():
                self.reasons.setCurrentRow(int(text) - 1)
                self.accept()
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept()
                return True
        return super().eventFilter(obj, event)

    def reason(self) -> ExcludeReason:
        return list(ExcludeReason)[self.reasons.currentRow()]

    def note_text(self) -> str | None:
        return self.note.text().strip() or None
