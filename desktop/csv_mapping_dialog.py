"""Saying which CSV column is what, with the first rows in view (see docs/importing.md).

Opened by the import when a CSV is neither AnnoMI nor read through a mapping
already. Pre-filled from the column names; every change re-reads the previewed
rows with the mapping, so the user sees the first transcript it makes (or the
one-line reason it cannot) before anything is imported. The mapping can be saved
as the JSON file ``attune import --csv-map`` takes.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import AttuneError
from core.importers import ImportOptions, parse_bytes
from core.importers.csv_mapped import CsvMapping, guess_mapping, mapping_from_dict

PREVIEW_ROWS = 5
NONE = "(none)"

# (mapping key, label, required) per kind
_FIELDS = {
    "turns": (
        ("session", "Session", True),
        ("speaker", "Speaker", False),
        ("role", "Role", False),
        ("text", "Text", True),
        ("order", "Order", False),
        ("title", "Title", False),
    ),
    "question_answer": (
        ("client_text", "Client's text", True),
        ("therapist_text", "Therapist's text", True),
        ("group", "Group (one question)", False),
        ("title", "Title", False),
    ),
}
_KINDS = (("question_answer", "One question and one answer per row"), ("turns", "One utterance per row"))


class CsvMappingDialog(QDialog):
    def __init__(
        self, parent: QWidget | None, *, path: Path, head: bytes, header: list[str], rows: list[list[str]]
    ) -> None:
        """``head``: the file's first rows as a small CSV, what the preview parses."""
        super().__init__(parent)
        self.setObjectName("csvMappingDialog")
        self.setWindowTitle(f"Read {path.name}")
        self.path = path
        self._head = head
        self._header = header
        intro = QLabel(
            "This CSV is not AnnoMI. Say which column holds what; the first transcript it makes "
            "is shown below. Columns ticked under Keep are stored as source metadata."
        )
        intro.setWordWrap(True)

        rows = rows[:PREVIEW_ROWS]
        self.table = QTableWidget(len(rows), len(header))
        self.table.setObjectName("csvPreview")
        self.table.setHorizontalHeaderLabels([c or NONE for c in header])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(" ".join(value.split())[:200])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(r, c, item)
        self.table.setMaximumHeight(self.table.verticalHeader().defaultSectionSize() * (PREVIEW_ROWS + 2))

        self.kind = QComboBox()
        self.kind.setObjectName("csvKind")
        for value, label in _KINDS:
            self.kind.addItem(label, value)
        self.form = QFormLayout()
        self.form.addRow("Each row is", self.kind)
        self.columns: dict[str, QComboBox] = {}
        for key in dict.fromkeys(k for fields in _FIELDS.values() for k, _, _ in fields):
            box = QComboBox()
            box.setObjectName(f"csvColumn_{key}")
            box.addItem(NONE, None)
            for c in header:
                if c:
                    box.addItem(c, c)
            self.columns[key] = box
        self.keep = QListWidget()
        self.keep.setObjectName("csvMetadata")
        for c in header:
            if c:
                item = QListWidgetItem(c)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.keep.addItem(item)
        self.keep.setMaximumHeight(120)
        self.result = QLabel()
        self.result.setObjectName("csvResult")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.save_button = QPushButton("Save mapping…")
        self.save_button.setToolTip("Save as JSON for: attune import --csv-map MAP.json FILE")
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.save_button.clicked.connect(self._save)

        self.fields_box = QWidget()
        self.fields_box.setLayout(QFormLayout())
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addLayout(self.form)
        layout.addWidget(self.fields_box)
        layout.addWidget(QLabel("Keep as metadata:"))
        layout.addWidget(self.keep)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)

        self._prefill(guess_mapping(header))
        self.kind.currentIndexChanged.connect(lambda _i: self._kind_changed())
        for box in self.columns.values():
            box.currentIndexChanged.connect(lambda _i: self._update())
        self.keep.itemChanged.connect(lambda _item: self._update())
        self._kind_changed()
        self.resize(760, 640)

    # The mapping ##############################################################

    def _prefill(self, guess: dict) -> None:
        self.kind.setCurrentIndex(max(0, self.kind.findData(guess.get("kind"))))
        for key, box in self.columns.items():
            index = box.findData(guess.get(key))
            box.setCurrentIndex(index if index >= 0 else 0)

    def _kind_changed(self) -> None:
        old = self.fields_box.layout()
        while old.count():
            item = old.takeAt(0)
            if item.widget() is not None:
                item.widget().setParent(None)
        for key, label, required in _FIELDS[self.kind.currentData()]:
            old.addRow(label + (" *" if required else ""), self.columns[key])
            self.columns[key].show()
        self._update()

    def mapping_dict(self) -> dict:
        out: dict = {"kind": self.kind.currentData()}
        for key, _, _ in _FIELDS[out["kind"]]:
            value = self.columns[key].currentData()
            if value:
                out[key] = value
        keep = [
            self.keep.item(i).text()
            for i in range(self.keep.count())
            if self.keep.item(i).checkState() == Qt.CheckState.Checked
        ]
        if keep:
            out["metadata"] = keep
        return out

    def mapping(self) -> CsvMapping:
        """The mapping as chosen; ValidationError if it is incomplete."""
        return mapping_from_dict(self.mapping_dict(), source="the mapping")

    def set_metadata_columns(self, columns: list[str]) -> None:
        for i in range(self.keep.count()):
            item = self.keep.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in columns else Qt.CheckState.Unchecked)

    def _update(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            mapping = self.mapping()
            parsed = parse_bytes(self.path, self._head, format="csv", options=ImportOptions(csv_map=mapping))
        except AttuneError as exc:
            self.result.setText(f"Cannot read it this way yet: {getattr(exc, 'reason', exc)}")
            ok.setEnabled(False)
            self.save_button.setEnabled(False)
            return
        first = parsed[0]
        lines = [f"First transcript: “{first.title}”, {len(first.turns)} turns"]
        for turn in first.turns[:4]:
            text = " ".join(turn.text.split())
            lines.append(f"  {turn.role.value} ({turn.speaker}): {text[:90]}{'…' if len(text) > 90 else ''}")
        if first.metadata:
            lines.append("  metadata: " + ", ".join(f"{k}={v}" for k, v in first.metadata.items())[:200])
        self.result.setText("\n".join(lines))
        ok.setEnabled(True)
        self.save_button.setEnabled(True)

    def _save(self) -> None:
        target, _ = QFileDialog.getSaveFileName(
            self, "Save the mapping", str(self.path.with_suffix(".map.json")), "JSON (*.json)"
        )
        if target:
            try:
                self.save_to(Path(target))
            except OSError as exc:
                QMessageBox.warning(self, "Mapping not saved", f"{target}: {exc.strerror or exc}")

    def save_to(self, target: Path) -> None:
        target.write_text(json.dumps(self.mapping_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
