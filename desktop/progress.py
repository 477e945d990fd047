"""A progress dialog that polls a core ``TaskState`` (Anki's pulled progress)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressDialog, QWidget

from core.progress import TaskState

POLL_MS = 100
_BAR_MAX = 2**31 - 1


class ProgressWatcher:
    def __init__(self, parent: QWidget | None, label: str, state: TaskState) -> None:
        self.state = state
        self.dialog = QProgressDialog(label, "Cancel", 0, 0, parent)
        self.dialog.setObjectName("progressDialog")
        self.dialog.setWindowTitle("Attune")
        self.dialog.setMinimumDuration(300)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(state.cancel)
        self._label = label
        self.timer = QTimer(self.dialog)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self) -> None:
        p = self.state.progress
        if p.total > 0:
            # The bar holds a 32-bit int; byte counts of a multi-GB download do not fit.
            scale = max(1, -(-p.total // _BAR_MAX))
            self.dialog.setMaximum(p.total // scale)
            self.dialog.setValue(min(p.done, p.total) // scale)
        if p.label:
            self.dialog.setLabelText(f"{self._label}\n{p.label}")

    def finish(self) -> None:
        self.timer.stop()
        self.dialog.close()
        self.dialog.deleteLater()
