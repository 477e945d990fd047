"""The item reader: every test item with each system's distances, and one item side by side.

The table is a ``QAbstractTableModel`` over the result in memory: cells are
formatted only when the view asks for them, so 10,000+ items show and sort in
a blink (a ``QTableWidget`` built one item object per cell up front).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.evaluate import EvaluationResult

if TYPE_CHECKING:
    from core.models import EvalItem

ITEM_METRICS = (("length_diff", "Δ words"), ("sentence_diff", "Δ sentences"), ("sentiment_distance", "Δ sentiment"))
_FIXED = 2  # item id, category
_MISSING = {"none": "no reply", "blocked": "blocked by a safety filter", "empty": "empty reply"}
_Index = QModelIndex | QPersistentModelIndex


def _cell_text(attr: str, value: float | int | None, state: str) -> str:
    if value is None:
        return f"— ({state})" if state != "ok" else "—"
    return f"{value:.4f}" if attr == "sentiment_distance" else str(value)


class ItemsModel(QAbstractTableModel):
    """One row per test item; columns: item, category, then each system's metrics."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: EvaluationResult | None = None
        self._headers: list[str] = []
        self._columns: list[tuple[str, str]] = []  # (system, metric attribute)
        self._order: list[int] = []  # row -> index into result.items

    def set_result(self, result: EvaluationResult) -> None:
        self.beginResetModel()
        self.result = result
        self._columns = [(s, attr) for s in result.systems for attr, _ in ITEM_METRICS]
        self._headers = ["Item", "Category"] + [f"{s} {label}" for s in result.systems for _, label in ITEM_METRICS]
        self._order = list(range(len(result.items)))
        self.endResetModel()

    # Reading ###################################################################

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._headers[section]
        return None

    def item(self, row: int) -> EvalItem:
        assert self.result is not None
        return self.result.items[self._order[row]]

    def example_id(self, row: int) -> str:
        return self.item(row).example_id

    def row_of(self, example_id: str) -> int:
        return next(r for r in range(len(self._order)) if self.example_id(r) == example_id)

    def _value(self, item_index: int, column: int) -> float | int | None:
        assert self.result is not None
        system, attr = self._columns[column - _FIXED]
        return getattr(self.result.scores[self.result.items[item_index].example_id][system], attr)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.result is None or not index.isValid():
            return None
        item = self.result.items[self._order[index.row()]]
        col = index.column()
        if role == Qt.ItemDataRole.UserRole:
            return item.example_id
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= _FIXED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == 0:
            return item.example_id
        if col == 1:
            return item.category
        system, attr = self._columns[col - _FIXED]
        score = self.result.scores[item.example_id][system]
        return _cell_text(attr, getattr(score, attr), score.state)

    # Sorting ###################################################################

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Missing values sort as the farthest in both directions (as the distances would)."""
        if self.result is None or not 0 <= column < len(self._headers):
            return
        items = self.result.items
        if column == 0:
            def key(i: int) -> Any:
                return items[i].example_id
        elif column == 1:
            def key(i: int) -> Any:
                return items[i].category
        else:
            def key(i: int) -> Any:
                value = self._value(i, column)
                return math.inf if value is None else value
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        held = [(self._order[p.row()], p.column()) for p in before]
        # Python's sort is stable for reverse=True too: ties keep their order.
        self._order.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        row_of = {item: row for row, item in enumerate(self._order)}
        self.changePersistentIndexList(before, [self.index(row_of[i], c) for i, c in held])
        self.layoutChanged.emit()


def _readonly_text(name: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setObjectName(name)
    box.setReadOnly(True)
    return box


class ItemReader(QSplitter):
    """The items table above the chosen item's context, reference and each system's reply."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.result: EvaluationResult | None = None
        self.model = ItemsModel(self)
        self.view = QTableView()
        self.view.setObjectName("evaluationItems")
        self.view.setModel(self.model)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setSortingEnabled(True)
        self.view.verticalHeader().setVisible(False)
        self.view.selectionModel().selectionChanged.connect(self._show_item)
        self.context_text = _readonly_text("itemContext")
        self.reference_text = _readonly_text("itemReference")
        self.reply_row = QHBoxLayout()
        self.reply_boxes: dict[str, QPlainTextEdit] = {}
        self.reply_titles: dict[str, QGroupBox] = {}
        detail = QWidget()
        dl = QVBoxLayout(detail)
        ctx_box = QGroupBox("Context (oldest first)")
        QVBoxLayout(ctx_box).addWidget(self.context_text)
        dl.addWidget(ctx_box, 1)
        ref_box = QGroupBox("Therapist (reference)")
        QVBoxLayout(ref_box).addWidget(self.reference_text)
        self.reply_row.addWidget(ref_box)
        dl.addLayout(self.reply_row, 1)
        self.addWidget(self.view)
        self.addWidget(detail)
        self.setSizes([300, 300])

    def show_result(self, result: EvaluationResult) -> None:
        self.result = result
        # A new result starts unsorted, in the dataset's order.
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.model.set_result(result)
        self.view.resizeColumnsToContents()
        # Reply panes: one per system, beside the therapist's.
        for box in list(self.reply_titles.values()):
            self.reply_row.removeWidget(box)
            box.deleteLater()
        self.reply_titles.clear()
        self.reply_boxes.clear()
        for s in result.systems:
            group = QGroupBox(s)
            text = _readonly_text(f"itemReply_{s}")
            QVBoxLayout(group).addWidget(text)
            self.reply_row.addWidget(group)
            self.reply_titles[s] = group
            self.reply_boxes[s] = text
        if result.items:
            self.view.selectRow(0)

    def sort_by(self, system: str, attr: str = "length_diff", *, descending: bool = True) -> None:
        assert self.result is not None
        col = _FIXED + self.result.systems.index(system) * len(ITEM_METRICS) + [a for a, _ in ITEM_METRICS].index(attr)
        self.view.sortByColumn(col, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)

    def order(self) -> list[str]:
        return [self.model.example_id(r) for r in range(self.model.rowCount())]

    def _show_item(self) -> None:
        if self.result is None:
            return
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return
        item = self.model.item(rows[0].row())
        eid = item.example_id
        self.context_text.setPlainText("\n\n".join(f"{role.capitalize()}: {text}" for role, text in item.context))
        self.reference_text.setPlainText(item.reference)
        for s, box in self.reply_boxes.items():
            score = self.result.scores[eid][s]
            if score.state == "ok":
                box.setPlainText(score.text)
                self.reply_titles[s].setTitle(
                    f"{s}: Δ {score.length_diff} words, Δ {score.sentence_diff} sentences, "
                    f"Δ sentiment {score.sentiment_distance:.4f}"
                )
            else:
                box.setPlainText(f"({_MISSING.get(score.state, score.state)}; counted as missing)")
                self.reply_titles[s].setTitle(f"{s}: missing")
