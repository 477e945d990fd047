"""The main window. Screens are pages; each reacts to ``operation_did_execute``."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtWidgets import QMainWindow, QTableView, QTabWidget

from core.changes import OpChanges
from core.models import Transcript
from core.store import transcripts as transcript_store
from desktop.operations import OpBus, QueryOp
from desktop.taskman import TaskManager


class TranscriptListModel(QAbstractTableModel):
    HEADERS = ["Title", "Category", "Turns"]

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Transcript] = []

    def set_rows(self, rows: list[Transcript]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        t = self._rows[index.row()]
        return (t.title, t.category.value, t.turn_count)[index.column()]


class MainWindow(QMainWindow):
    def __init__(self, taskman: TaskManager, bus: OpBus) -> None:
        super().__init__()
        self.taskman = taskman
        self.bus = bus
        self.setWindowTitle("Attune")
        self.resize(1100, 700)
        self.tabs = QTabWidget()
        self.setCentralWidget(self.tabs)
        self.transcript_model = TranscriptListModel()
        self.transcript_view = QTableView()
        self.transcript_view.setObjectName("transcriptList")
        self.transcript_view.setModel(self.transcript_model)
        self.tabs.addTab(self.transcript_view, "Transcripts")
        bus.operation_did_execute.connect(self.op_executed)
        self.refresh()

    def refresh(self) -> None:
        QueryOp(self, transcript_store.list_transcripts).success(
            self.transcript_model.set_rows
        ).run_in_background()

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        if changes.transcripts:
            self.refresh()
