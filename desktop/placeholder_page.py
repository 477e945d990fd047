"""A page slot waiting for its screen (Dataset, Evaluate) to be wired in."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.changes import OpChanges


class PlaceholderPage(QWidget):
    def __init__(self, text: str) -> None:
        super().__init__()
        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(label)

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        pass
