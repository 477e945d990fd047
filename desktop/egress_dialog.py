"""The confirmation shown before transcript text leaves the machine (issue 15 item 1).

Shows exactly what a ``core.egress.Manifest`` says will be sent: destination,
examples, characters, a sample of the text and the identifier scan (counts per
kind, every hit viewable). "Cancel" is the default button; nothing is sent
unless the user presses "Send".
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.egress import Manifest


def _label(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class EgressDialog(QDialog):
    """Modal: returns Accepted only when the user pressed "Send"."""

    def __init__(self, manifest: Manifest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manifest = manifest
        self.setWindowTitle("Send transcript text off this machine?")
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.addWidget(_label(f"About to send {manifest.kind} of {manifest.what} OFF THIS MACHINE.", "headline"))

        dest = manifest.destination
        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}

        def row(key: str, title: str, value: str) -> None:
            self.fields[key] = _label(value, f"egress_{key}")
            form.addRow(title, self.fields[key])

        row("service", "Service", dest.service)
        if dest.project:
            row("project", "Project", dest.project)
        if dest.region:
            row("region", "Region", dest.region)
        if dest.bucket:
            row("bucket", "Bucket", f"gs://{dest.bucket}/{dest.prefix.strip('/')}".rstrip("/"))
        if dest.model:
            row("model", "Model", dest.model)
        row("examples", "Examples", str(manifest.examples))
        row("characters", "Characters", str(manifest.characters))
        row("bytes", "Bytes", f"{manifest.bytes} in {len(manifest.payloads)} "
                              f"{'files' if manifest.kind == 'upload' else 'requests'}")
        counts = manifest.counts()
        row("scan", "Identifier scan", ", ".join(f"{k} {n}" for k, n in counts.items()))
        layout.addLayout(form)

        layout.addWidget(_label(f"Possible identifiers found: {len(manifest.hits)}"))
        self.hits = QListWidget()
        self.hits.setObjectName("egress_hits")
        for h in manifest.hits:
            self.hits.addItem(f"{h.kind}: {h.text!r} ({h.where})")  # QListWidget items are plain text
        layout.addWidget(self.hits)

        layout.addWidget(_label("Sample of the text that will be sent:"))
        self.sample = QPlainTextEdit(manifest.sample)
        self.sample.setObjectName("egress_sample")
        self.sample.setReadOnly(True)
        layout.addWidget(self.sample)

        buttons = QDialogButtonBox()
        self.send_button = QPushButton("Send")
        self.cancel_button = QPushButton("Cancel")
        buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.send_button.setAutoDefault(False)
        self.cancel_button.setDefault(True)
        self.cancel_button.setFocus()
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 640)


def ask_to_send(manifest: Manifest, parent: QWidget | None = None) -> bool:
    """Show the dialog modally; True only if the user pressed "Send".

    Use as ``egress.confirm(manifest, ask=lambda m: ask_to_send(m, self), via="dialog")``.
    """
    dialog = EgressDialog(manifest, parent)
    return dialog.exec() == QDialog.DialogCode.Accepted
