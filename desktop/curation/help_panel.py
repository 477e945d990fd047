"""The shortcut help panel, rendered from the same table the actions come from."""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from desktop.curation.shortcuts import GROUPS, SHORTCUTS


def native(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText) or keys


def help_html() -> str:
    parts = ["<h2>Keyboard shortcuts</h2>"]
    for group in GROUPS:
        parts.append(f"<h3>{escape(group)}</h3><table cellspacing='0' cellpadding='4'>")
        for s in SHORTCUTS:
            if s.group != group:
                continue
            keys = " or ".join(f"<b><code>{escape(native(k))}</code></b>" for k in s.keys)
            parts.append(f"<tr><td width='150'>{keys}</td><td>{escape(s.description)}</td></tr>")
        parts.append("</table>")
    parts.append(
        "<p>In the exclude picker: <b>1–6</b> picks a reason, <b>↑ ↓</b> and <b>Enter</b> too, "
        "<b>Esc</b> cancels. Select several turns (Shift/Ctrl+click or Shift+↓) or transcripts to "
        "decide them in one step; one undo takes the whole step back.</p>"
    )
    return "".join(parts)


class HelpPanel(QDialog):
    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName("helpPanel")
        self.setWindowTitle("Keyboard shortcuts")
        self.browser = QTextBrowser()
        self.browser.setObjectName("helpText")
        self.browser.setHtml(help_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(620, 640)
