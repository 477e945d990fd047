"""The egress log in a window: every upload and generation run that sent transcript text off this machine.

Read-only, the same rows as ``attune egress-log`` (what, when, where, the
SHA-256 of exactly what was sent, counts), newest first; the selected row's
details (service, model, who confirmed and how, the identifier scan's counts)
below. The log itself is append-only (migration 0010), so there is nothing to
edit here.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.operations import egress as ops

COLUMNS = ["When", "Kind", "Examples", "Bytes", "Destination", "What", "SHA-256"]


class EgressLogDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("egressLogDialog")
        self.setWindowTitle("Egress log: what left this machine")
        self.entries: list = []
        layout = QVBoxLayout(self)
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("egressLogSummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("egressLogTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_detail)
        layout.addWidget(self.table, 2)
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("egressLogDetail")
        self.detail.setReadOnly(True)
        layout.addWidget(self.detail, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.refresh_button = QPushButton("Refresh")
        buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.refresh_button.clicked.connect(self.refresh)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(1000, 560)
        self.refresh()

    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        ops.load_log(parent=self).success(self._show).finally_(
            lambda: self.refresh_button.setEnabled(True)).run_in_background()

    def _show(self, entries: list) -> None:
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            cells = [e.at, e.kind, str(e.examples), str(e.bytes), e.destination, e.what, e.content_hash[:16]]
            for col, value in enumerate(cells):
                item = QTableWidgetItem(value)  # plain text: titles and names come from users
                if col == len(cells) - 1:
                    item.setToolTip(e.content_hash)
                self.table.setItem(row, col, item)
        if not entries:
            self.summary.setText("Nothing has left this machine.")
        else:
            sent = sum(e.bytes for e in entries)
            self.summary.setText(f"{len(entries)} sends ({sent} bytes in all), newest first. "
                                 "Each row was written before the text was sent.")
            self.table.selectRow(0)
        self._show_detail()

    def _show_detail(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        if not rows or min(rows) >= len(self.entries):
            self.detail.setPlainText("")
            return
        e = self.entries[min(rows)]
        lines = [f"#{e.id}  {e.at}  {e.kind}", f"what: {e.what}", f"where: {e.destination}",
                 f"examples: {e.examples}, bytes: {e.bytes}", f"sha256: {e.content_hash}"]
        lines += [f"{k}: {json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list)) else v}"
                  for k, v in sorted(e.detail.items())]
        self.detail.setPlainText("\n".join(lines))


def open_egress_log(parent: QWidget | None = None) -> EgressLogDialog:
    """Show the log (non-modal); returns the dialog."""
    dialog = EgressLogDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
