"""Choosing who is rating: asked on first start, switchable from the menu."""

from __future__ import annotations

import getpass

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget


def os_user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers, some CI)
        return ""


class RaterDialog(QDialog):
    """An editable list: pick an existing rater or type a new name."""

    def __init__(self, parent: QWidget | None, *, raters: list[str], current: str | None) -> None:
        super().__init__(parent)
        self.setObjectName("raterDialog")
        self.setWindowTitle("Who is rating?")
        first = current is None
        text = (
            "Every decision records who made it. Enter your name (or initials) as the rater:"
            if first
            else "Switch to another rater, or type a new name:"
        )
        label = QLabel(text)
        label.setWordWrap(True)
        self.name = QComboBox()
        self.name.setObjectName("raterName")
        self.name.setEditable(True)
        self.name.addItems(raters)
        self.name.setEditText(current or os_user_name())
        self.name.lineEdit().selectAll()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept_if_named)
        self.buttons.rejected.connect(self.reject)
        if first:
            # There is no sensible default identity for an audit trail.
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.name)
        layout.addWidget(self.buttons)
        self.resize(380, self.sizeHint().height())

    def chosen(self) -> str:
        return self.name.currentText().strip()

    def _accept_if_named(self) -> None:
        if self.chosen():
            self.accept()

    def reject(self) -> None:
        if self.buttons.button(QDialogButtonBox.StandardButton.Cancel).isHidden():
            return  # first start: a name is required
        super().reject()
