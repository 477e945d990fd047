"""Full-text search over every turn: type, then Enter (or ↓ to pick) jumps to the hit."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QKeyEvent, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from core.text_safety import rich_text_literal
from desktop import theme
from desktop.curation.turn_text import snippet_html
from desktop.operations.curation import search_turns

DEBOUNCE_MS = 150


HtmlRole = Qt.ItemDataRole.UserRole + 1


class SnippetDelegate(QStyledItemDelegate):
    """Draws a hit's title and snippet with the matched words in bold."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        colour = option.palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        fm = option.fontMetrics
        r = option.rect.adjusted(4, 3, -4, -3)
        painter.save()
        painter.setClipRect(option.rect)
        # Where the hit is: one elided line, muted.
        painter.setPen(colour if selected else theme.muted_text(option.palette))
        title = fm.elidedText(index.data(Qt.ItemDataRole.DisplayRole), Qt.TextElideMode.ElideRight, r.width())
        painter.drawText(r.left(), r.top() + fm.ascent(), title)
        # The snippet, matched words in bold, on up to two lines below.
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(option.font)
        doc.setHtml(index.data(HtmlRole))
        doc.setTextWidth(r.width())
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, colour)
        painter.translate(r.left(), r.top() + fm.lineSpacing())
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        # One fixed height (a title line and two snippet lines), so the list
        # measures once instead of laying out 200 rich-text documents.
        return QSize(240, option.fontMetrics.lineSpacing() * 3 + 8)


class SearchBar(QWidget):
    hit_chosen = Signal(int, int)  # TurnId, TranscriptId
    done = Signal()  # Esc: hand the keyboard back

    def __init__(self, title_of: Callable[[int], str]) -> None:
        super().__init__()
        self._title_of = title_of
        self.edit = QLineEdit()
        self.edit.setObjectName("searchBox")
        self.edit.setPlaceholderText("Search every turn  ( / )")
        self.edit.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.results.setObjectName("searchResults")
        self.results.setWordWrap(True)
        self.results.setUniformItemSizes(True)
        self.results.setItemDelegate(SnippetDelegate(self.results))
        self.results.hide()
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)  # errors quote the query
        self.summary.setObjectName("searchSummary")
        self.summary.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addWidget(self.summary)
        layout.addWidget(self.results)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_search)
        self._generation = 0
        self._pending_jump = False
        self.edit.textChanged.connect(self._text_changed)
        self.edit.returnPressed.connect(self._enter)
        self.edit.installEventFilter(self)
        self.results.installEventFilter(self)
        self.results.itemActivated.connect(self._activate)

    def focus(self) -> None:
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def _text_changed(self, text: str) -> None:
        if not text.strip():
            self._generation += 1
            self.results.clear()
            self.results.hide()
            self.summary.hide()
            return
        self._timer.start()

    def run_search(self) -> None:
        query = self.edit.text().strip()
        if not query:
            return
        self._generation += 1
        generation = self._generation
        search_turns(parent=self, query=query).success(
            lambda hits: self._show(generation, hits)
        ).failure(lambda exc: self._failed(generation, exc)).run_in_background()

    def _failed(self, generation: int, exc: Exception) -> None:
        # A half-typed query (a lone quote) is not an error worth a dialog.
        if generation == self._generation:
            self.results.clear()
            self.summary.setText(f"Search: {exc}")
            self.summary.show()

    def _show(self, generation: int, hits: list) -> None:
        if generation != self._generation:
            return  # an older query finished after a newer one started
        self.results.setUpdatesEnabled(False)
        self.results.clear()
        for hit in hits:
            title = self._title_of(hit.transcript_id)
            item = QListWidgetItem(f"{title} · turn {hit.position + 1} · {hit.role}")
            item.setData(HtmlRole, snippet_html(hit.snippet))
            item.setToolTip(rich_text_literal(title))  # tooltips guess rich text from the string
            item.setData(Qt.ItemDataRole.UserRole, (hit.turn_id, hit.transcript_id))
            self.results.addItem(item)
        self.results.setUpdatesEnabled(True)
        self.summary.setText(f"{len(hits)} hit{'s' if len(hits) != 1 else ''}" + (" (first 200)" if len(hits) >= 200 else ""))
        self.summary.show()
        self.results.setVisible(bool(hits))
        if hits:
            self.results.setCurrentRow(0)
        if self._pending_jump:
            self._pending_jump = False
            if hits:
                self._activate(self.results.item(0))

    def _enter(self) -> None:
        if self._timer.isActive() or not self.results.count():
            # Results not in yet: jump as soon as they are.
            self._timer.stop()
            self._pending_jump = True
            self.run_search()
            return
        self._activate(self.results.currentItem() or self.results.item(0))

    def _activate(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        turn_id, transcript_id = item.data(Qt.ItemDataRole.UserRole)
        self.hit_chosen.emit(turn_id, transcript_id)

    def eventFilter(self, obj, event) -> bool:  # noqa: ANN001
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            # Arrows and Esc belong to the search while it has the keyboard.
            if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Escape):
                event.accept()
                return True
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Escape:
                self.done.emit()
                return True
            if obj is self.edit and event.key() == Qt.Key.Key_Down and self.results.count():
                self.results.setFocus()
                return True
            if obj is self.results and event.key() == Qt.Key.Key_Up and self.results.currentRow() == 0:
                self.edit.setFocus()
                return True
        return super().eventFilter(obj, event)
