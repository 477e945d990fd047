"""The transcript list: a table over core's summaries, with filters.

The model receives all summaries in one query (plain tuples, cheap even for
13,000 transcripts) but exposes them to the view in chunks through
``canFetchMore``/``fetchMore``, so the view lays out only what is scrolled to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QEvent, QItemSelectionModel, QModelIndex, QPersistentModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.ids import TranscriptId
from core.models import Category
from core.text_safety import rich_text_literal
from desktop import theme

CHUNK = 500
# Source metadata keys shown as columns without being chosen: at most this many,
# each with at most this many values (a topic list, not an id per transcript).
MAX_AUTO_COLUMNS = 3
MAX_FILTER_VALUES = 100
METADATA_COLUMN_MAX_PX = 120
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
        # Source metadata shown as extra columns after the fixed ones.
        self.meta_keys: list[str] = []
        self._metadata: dict[TranscriptId, dict] = {}

    def set_metadata_columns(self, keys: Sequence[str], metadata: dict[TranscriptId, dict]) -> None:
        self.beginResetModel()
        self.meta_keys = list(keys)
        self._metadata = metadata
        self.endResetModel()

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
        if self._all[row] == summary:
            return  # unchanged: no repaint of the row
        self._all[row] = summary
        if row < self._shown:
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))

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
        return len(self.HEADERS) + len(self.meta_keys)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if section >= len(self.HEADERS):
                key = self.meta_keys[section - len(self.HEADERS)]
                if role == Qt.ItemDataRole.DisplayRole:
                    return key
                if role == Qt.ItemDataRole.ToolTipRole:
                    return f"What the source said: {key} (right-click to choose these columns)"
                return None
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
        if col >= len(self.HEADERS):
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                value = self._metadata.get(s.id, {}).get(self.meta_keys[col - len(self.HEADERS)])
                return None if value is None else str(value)
            return None
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
            return rich_text_literal(s.title)  # tooltips guess rich text; a title is shown as typed
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
        # Source-metadata columns (topic, quality, …) can outgrow the panel: a
        # scroll bar then appears rather than the columns being cut off unseen.
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
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
        # Source metadata (AnnoMI's topic and mi_quality, a CSV's mapped columns):
        # hidden until the workspace has some worth filtering on.
        self.metadata = QComboBox()
        self.metadata.setObjectName("metadataFilter")
        self.metadata.setToolTip("Only transcripts whose source says this (topic, quality, …)")
        # A long topic must not widen the whole list (and so the window's minimum width).
        self.metadata.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.metadata.setMinimumContentsLength(16)
        self.metadata.addItem("Any source metadata")
        # (key, value) per entry, kept here: a combo box's item data would not compare tuples.
        self._filter_values: list[tuple[str, str] | None] = [None]
        self.metadata.setVisible(False)
        self.count_label = QLabel()
        self.count_label.setObjectName("transcriptCount")

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.category, 1)
        filters.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.metadata)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)

        self.category.currentIndexChanged.connect(lambda _i: self.filters_changed.emit())
        self.status.currentIndexChanged.connect(lambda _i: self.filters_changed.emit())
        self.metadata.currentIndexChanged.connect(lambda _i: self.filters_changed.emit())
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._choose_columns)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._row_menu)
        self._quiet = False
        # Summaries as core gave them (category and status filtered), before the
        # metadata filter, which is applied here from the metadata loaded below.
        self._unfiltered: list = []
        self._metadata: dict[TranscriptId, dict] = {}
        self._metadata_of: set[TranscriptId] = set()  # ids whose metadata is loaded
        self._metadata_loading = False
        # Off until the page's first conversation is on screen: the metadata
        # query (tens of ms at 13,000 transcripts) must not queue ahead of the
        # first screen's reads on the database thread.
        self._metadata_enabled = False
        self._chosen_keys: list[str] | None = None  # None: pick automatically

    # Filters ##################################################################

    def category_filter(self) -> Category | None:
        value = self.category.currentData()
        return Category(value) if value else None

    def status_filter(self) -> str | None:
        return self.status.currentData()

    def metadata_filter(self) -> tuple[str, str] | None:
        """(key, value as text) the list is limited to, or None."""
        i = self.metadata.currentIndex()
        return self._filter_values[i] if 0 <= i < len(self._filter_values) else None

    def metadata_filter_index(self, key: str, value: str) -> int:
        """The filter entry for KEY=VALUE, -1 if there is none."""
        try:
            return self._filter_values.index((key, value))
        except ValueError:
            return -1

    def is_filtered(self) -> bool:
        return (
            self.category_filter() is not None
            or self.status_filter() is not None
            or self.metadata_filter() is not None
        )

    # Source metadata ##########################################################

    def enable_metadata(self) -> None:
        """Load source metadata from now on (columns and filter appear when it arrives)."""
        if not self._metadata_enabled:
            self._metadata_enabled = True
            self._ensure_metadata()

    def _ensure_metadata(self) -> None:
        # Metadata never changes after import: load it again only for new transcripts.
        if not self._metadata_enabled or self._metadata_loading:
            return
        wanted = {s.id for s in self._unfiltered}
        if wanted <= self._metadata_of:
            return
        from desktop.operations.importing import load_metadata

        self._metadata_loading = True

        def failed(exc: Exception) -> None:
            from desktop.errors import show_exception

            self._metadata_loading = False
            show_exception(self, exc)

        load_metadata(parent=self).success(lambda m: self._metadata_loaded(m, wanted)).failure(
            failed
        ).run_in_background()

    def _metadata_loaded(self, metadata: dict, requested: set) -> None:
        self._metadata_loading = False
        self._metadata = metadata
        self._metadata_of |= requested
        self._refresh_metadata_ui()
        self._show(self._current_id())
        self._ensure_metadata()  # transcripts imported while this was loading

    def metadata_key_stats(self) -> dict[str, Counter]:
        """key → Counter of its values (as text) over every loaded transcript."""
        stats: dict[str, Counter] = {}
        for meta in self._metadata.values():
            for key, value in meta.items():
                if not isinstance(value, (dict, list)):
                    counter = stats.get(key)
                    if counter is None:  # (setdefault would build a Counter per value: 13,000 transcripts' worth)
                        counter = stats[key] = Counter()
                    counter[str(value)] += 1
        return stats

    def _auto_keys(self, stats: dict[str, Counter]) -> list[str]:
        # Keys that group transcripts (topic, quality), not ones unique to each (ids, URLs).
        keys = [
            k for k, values in stats.items()
            if len(values) <= MAX_FILTER_VALUES and len(values) < sum(values.values())
        ]
        keys.sort(key=lambda k: (len(stats[k]), k))
        return keys[:MAX_AUTO_COLUMNS]

    def shown_metadata_keys(self) -> list[str]:
        return list(self.model.meta_keys)

    def set_metadata_keys(self, keys: Sequence[str] | None) -> None:
        """Show these keys as columns (None: choose automatically)."""
        self._chosen_keys = None if keys is None else list(keys)
        self._refresh_metadata_ui()
        self._show(self._current_id())

    def _refresh_metadata_ui(self) -> None:
        stats = self.metadata_key_stats()
        keys = (
            [k for k in self._chosen_keys if k in stats] if self._chosen_keys is not None else self._auto_keys(stats)
        )
        if keys != self.model.meta_keys or self.model._metadata is not self._metadata:
            self.model.set_metadata_columns(keys, self._metadata)
            header = self.view.horizontalHeader()
            fm = self.view.fontMetrics()
            for i, key in enumerate(keys):
                widest = max([key, *stats[key]], key=len)
                header.setSectionResizeMode(len(TranscriptListModel.HEADERS) + i, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(
                    len(TranscriptListModel.HEADERS) + i, min(fm.horizontalAdvance(widest) + 18, METADATA_COLUMN_MAX_PX)
                )
        current = self.metadata_filter()
        self.metadata.blockSignals(True)
        self.metadata.clear()
        self.metadata.addItem("Any source metadata")
        self._filter_values = [None]
        for key in keys:
            for value, n in stats[key].most_common():
                self.metadata.addItem(f"{key}: {value} ({n})")
                self._filter_values.append((key, value))
        index = self.metadata_filter_index(*current) if current is not None else 0
        self.metadata.setCurrentIndex(max(index, 0))
        self.metadata.blockSignals(False)
        self.metadata.setVisible(bool(keys))
        if current is not None and index < 0:
            self.filters_changed.emit()  # the filtered-on value is gone

    def _choose_columns(self, pos) -> None:
        stats = self.metadata_key_stats()
        if not stats:
            return
        menu = QMenu(self)
        menu.setObjectName("metadataColumnsMenu")
        shown = set(self.model.meta_keys)
        for key in sorted(stats):
            action = menu.addAction(f"{key}  ({len(stats[key])} values)")
            action.setCheckable(True)
            action.setChecked(key in shown)
            action.setData(key)
        menu.addSeparator()
        auto = menu.addAction("Choose automatically")
        picked = menu.exec(self.view.horizontalHeader().mapToGlobal(pos))
        if picked is None:
            return
        if picked is auto:
            self.set_metadata_keys(None)
            return
        key = picked.data()
        keys = [k for k in self.model.meta_keys if k != key] if key in shown else [*self.model.meta_keys, key]
        self.set_metadata_keys(keys)

    # Rows #####################################################################

    def _current_id(self) -> TranscriptId | None:
        index = self.view.selectionModel().currentIndex()
        return self.model.summary(index.row()).id if index.isValid() else None

    def set_summaries(self, summaries: Sequence, keep: TranscriptId | None) -> None:
        self._unfiltered = list(summaries)
        self._show(keep)
        self._ensure_metadata()

    def _show(self, keep: TranscriptId | None) -> None:
        summaries = self._unfiltered
        wanted = self.metadata_filter()
        if wanted is not None:
            key, value = wanted
            meta = self._metadata
            summaries = [s for s in summaries if str(meta.get(s.id, {}).get(key)) == value]
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

    def _row_menu(self, pos) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        menu = QMenu(self)
        action = menu.addAction(f"Delete {'transcript' if len(ids) == 1 else f'{len(ids)} transcripts'}…")
        action.setObjectName("deleteTranscripts")
        action.triggered.connect(self.delete_selected)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def delete_selected(self) -> None:
        """Ask (naming the decisions and datasets that go too), then delete the selected transcripts."""
        from desktop.curation.transcript_delete import confirm_and_delete

        confirm_and_delete(self, self.selected_ids())

    def selected_ids(self) -> list[TranscriptId]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.model.summary(r).id for r in rows]

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._quiet and current.isValid():
            self.transcript_activated.emit(self.model.summary(current.row()).id)
