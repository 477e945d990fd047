"""The transcript list: a table over core's summaries, with filters.

The model receives all summaries in one query (plain tuples, cheap even for
13,000 transcripts) but exposes them to the view in chunks through
``canFetchMore``/``fetchMore``, so the view lays out only what is scrolled to.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QEvent, QItemSelectionModel, QModelIndex, QPersistentModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.ids import TranscriptId
from core.models import Category
from desktop import theme

CHUNK = 500
SummaryRole = Qt.ItemDataRole.UserRole + 1

# (label, core status_filter value)
STATUS_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("Any progress", None),
    ("To do", "todo"),
    ("Not started", "unstarted"),
    ("In progress", "in_progress"),
    ("Done", "done"),
    ("Has flagged turns", "flagged"),
)


_ANSWERED = frozenset(
    int(r) for r in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.TextAlignmentRole, SummaryRole)
)


class TranscriptListModel(QAbstractTableModel):
    HEADERS = ("Title", "Category", "Turns", "Eligible", "Decided")
    TOOLTIPS = (
        "",
        "Symptom category",
        "All turns",
        "Therapist turns with at least the minimum words",
        "Eligible turns you have included or excluded",
    )

    def __init__(self) -> None:
        super().__init__()
        self._all: list = []  # TranscriptSummary
        self._shown = 0
        self._rows: dict[TranscriptId, int] = {}

    def set_summaries(self, summaries: Sequence) -> None:
        self.beginResetModel()
        self._all = list(summaries)
        self._rows = {s.id: i for i, s in enumerate(self._all)}
        self._shown = min(CHUNK, len(self._all))
        self.endResetModel()

    def replace_summary(self, summary: object) -> None:
        row = self._rows.get(summary.id)  # type: ignore[attr-defined]
        if row is None:
            return
        self._all[row] = summary
        if row < self._shown:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def summary(self, row: int):
        return self._all[row]

    def summaries(self) -> list:
        return self._all

    def ids(self) -> list[TranscriptId]:
        return [s.id for s in self._all]

    def row_of(self, transcript_id: TranscriptId) -> int | None:
        return self._rows.get(transcript_id)

    def ensure_fetched(self, row: int) -> None:
        if row >= self._shown:
            new = min(len(self._all), (row // CHUNK + 1) * CHUNK)
            self.beginInsertRows(QModelIndex(), self._shown, new - 1)
            self._shown = new
            self.endInsertRows()

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> bool:
        return not parent.isValid() and self._shown < len(self._all)

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> None:
        if self.canFetchMore(parent):
            self.ensure_fetched(self._shown)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.TOOLTIPS[section] or None
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        # Called for every role of every visible cell on each repaint: turn
        # away the roles we never answer before touching the row.
        if role not in _ANSWERED or not index.isValid():
            return None
        s = self._all[index.row()]
        col = index.column()
        if role == SummaryRole:
            return s
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return s.title
            if col == 1:
                return str(s.category)
            if col == 2:
                return s.turns
            if col == 3:
                return s.eligible
            return f"{s.decided} / {s.eligible}"
        if role == Qt.ItemDataRole.ToolTipRole and col == 0:
            return s.title
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ProgressDelegate(QStyledItemDelegate):
    """Decided / eligible as text over a thin bar in the palette's accent."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        s = index.data(SummaryRole)
        if s is None or not s.eligible:
            return
        share = min(1.0, s.decided / s.eligible)
        r = option.rect
        track = QRect(r.left() + 4, r.bottom() - 4, r.width() - 8, 3)
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        palette: QPalette = option.palette
        painter.setBrush(theme.blend(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.12))
        painter.drawRect(track)
        painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
        painter.drawRect(QRect(track.left(), track.top(), round(track.width() * share), track.height()))
        painter.restore()


class KeepArrowsTable(QTableView):
    """Arrow keys move within this table instead of firing the window's turn shortcuts."""

    OWN_KEYS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End}

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if event.key() in self.OWN_KEYS:
                event.accept()
                return True
        return super().event(event)


class TranscriptList(QWidget):
    """Filters on top, the table below. Emits what the user picked."""

    transcript_activated = Signal(int)  # TranscriptId
    filters_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.model = TranscriptListModel()
        self.view = KeepArrowsTable()
        self.view.setObjectName("transcriptList")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 10)
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(24)
        fm = self.view.fontMetrics()
        # Fixed widths from the widest expected text: ResizeToContents would
        # measure all 13,000 rows, and the title needs whatever is left.
        for col, sample in ((1, "Frustration"), (2, "Turns"), (3, "Eligible"), (4, "88 / 88")):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, fm.horizontalAdvance(sample) + 18)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setItemDelegateForColumn(4, ProgressDelegate(self.view))

        self.category = QComboBox()
        self.category.setObjectName("categoryFilter")
        self.category.addItem("All categories", None)
        for c in Category:
            self.category.addItem(c.value, c.value)
        self.status = QComboBox()
        self.status.setObjectName("statusFilter")
        for label, value in STATUS_FILTERS:
            self.status.addItem(label, value)
        self.count_label = QLabel()
        self.count_label.setObjectName("transcriptCount")

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.category, 1)
        filters.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)

        self.category.currentIndexChanged.connect(lambda _i: self.filters_changed.emit())
        self.status.currentIndexChanged.connect(lambda _i: self.filters_changed.emit())
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self._quiet = False

    # Filters ##################################################################

    def category_filter(self) -> Category | None:
        value = self.category.currentData()
        return Category(value) if value else None

    def status_filter(self) -> str | None:
        return self.status.currentData()

    def is_filtered(self) -> bool:
        return self.category_filter() is not None or self.status_filter() is not None

    # Rows #####################################################################

    def set_summaries(self, summaries: Sequence, keep: TranscriptId | None) -> None:
        self._quiet = True
        try:
            self.model.set_summaries(summaries)
            if keep is not None:
                self.select(keep)
        finally:
            self._quiet = False
        total_turns = sum(s.turns for s in self.model.summaries())
        self.count_label.setText(f"{len(self.model.summaries()):,} transcripts · {total_turns:,} turns")

    def select(self, transcript_id: TranscriptId) -> None:
        """Make the transcript current without re-announcing it."""
        row = self.model.row_of(transcript_id)
        if row is None:
            self.view.selectionModel().clearCurrentIndex()
            return
        self.model.ensure_fetched(row)
        was = self._quiet
        self._quiet = True
        try:
            index = self.model.index(row, 0)
            self.view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            )
            self.view.scrollTo(index)
        finally:
            self._quiet = was

    def selected_ids(self) -> list[TranscriptId]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.model.summary(r).id for r in rows]

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._quiet and current.isValid():
            self.transcript_activated.emit(self.model.summary(current.row()).id)
