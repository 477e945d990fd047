"""The conversation: every turn of one transcript, painted by one delegate.

A single ``QListView`` over a flat model, not a widget per turn, so opening a
1,000-turn transcript costs one model reset and the view only paints what is
on screen. Row heights depend on the wrapped text and the view's width; they
are cached per (turn, width) so scrolling never re-measures.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette, QPen, QResizeEvent, QTextLayout
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from core.ids import TurnId
from core.models import Role, Turn
from desktop import theme
from desktop.curation.turn_text import body_height, lay_out_body, state_badges

_SCROLL_BAR_EXTENT = QStyle.PixelMetric.PM_ScrollBarExtent
TurnRole = Qt.ItemDataRole.UserRole + 1
StateRole = Qt.ItemDataRole.UserRole + 2
EligibleRole = Qt.ItemDataRole.UserRole + 3


class ConversationModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self._turns: list[Turn] = []
        self._states: dict[TurnId, object] = {}
        self._rows: dict[TurnId, int] = {}
        self.min_words = 50

    def set_turns(self, turns: list[Turn], states: dict[TurnId, object]) -> None:
        self.beginResetModel()
        self._turns = turns
        self._states = dict(states)
        self._rows = {t.id: i for i, t in enumerate(turns)}
        self.endResetModel()

    def set_states(self, states: dict[TurnId, object]) -> None:
        """Take fresh states; only the cards whose state changed are repainted.

        After a decision the whole transcript's states are read back, but one
        card changed: announcing the full range would repaint (and lay out the
        text of) every card on screen on each key press.
        """
        changed = sorted(
            self._rows[t] for t, st in states.items() if t in self._rows and self._states.get(t) != st
        )
        self._states.update(states)
        start = 0
        for i in range(1, len(changed) + 1):  # one signal per run of adjacent rows
            if i == len(changed) or changed[i] != changed[i - 1] + 1:
                self.dataChanged.emit(self.index(changed[start]), self.index(changed[i - 1]), [StateRole])
                start = i

    def set_min_words(self, min_words: int) -> None:
        self.min_words = min_words
        if self._turns:
            self.dataChanged.emit(self.index(0), self.index(len(self._turns) - 1), [EligibleRole])

    def turns(self) -> list[Turn]:
        return self._turns

    def row_of(self, turn_id: TurnId) -> int | None:
        return self._rows.get(turn_id)

    def state_of(self, turn_id: TurnId) -> object | None:
        return self._states.get(turn_id)

    def is_eligible(self, turn: Turn) -> bool:
        return turn.role is Role.THERAPIST and turn.word_count >= self.min_words

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._turns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        turn = self._turns[index.row()]
        if role == TurnRole:
            return turn
        if role == Qt.ItemDataRole.DisplayRole:
            return turn.text
        if role == StateRole:
            return self._states.get(turn.id)
        if role == EligibleRole:
            return self.is_eligible(turn)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{turn.speaker}: {turn.text}"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


@dataclass(frozen=True)
class Card:
    """Where one turn's parts go inside its row; paint draws ``text`` at ``body``'s top left."""

    bubble: QRect
    header: QRect
    body: QRect  # exactly as tall as every line of ``text``
    text: QTextLayout


class TurnDelegate(QStyledItemDelegate):
    PAD = 10  # inside a bubble
    MARGIN = 6  # between bubbles
    INDENT = 56  # how far a bubble leaves room on the other speaker's side
    GUTTER = 4  # room for the eligibility bar; every therapist turn keeps it, so eligibility never rewraps text
    HEADER_GAP = 4

    LAYOUTS_KEPT = 512  # wrapped texts kept for painting (a screenful is a dozen)

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self._heights: dict[tuple[int, int, int, str], int] = {}
        self._layouts: dict[tuple[int, int, int, str], QTextLayout] = {}
        self._header_heights: dict[str, int] = {}
        self._content_width_for: tuple[tuple[int, int] | None, int] = (None, 0)

    def _bubble_width(self) -> int:
        return max(160, self._content_width() - self.INDENT - 2 * self.MARGIN)

    def _content_width(self) -> int:
        """The viewport's width as if the vertical scroll bar were shown.

        The same whether it is shown or not: a transcript long enough to need
        the bar would otherwise be measured twice on opening (every card
        wrapped again a bar's width narrower), and a card never moves when the
        bar comes or goes.
        """
        view = self._view
        # The view's and the viewport's widths together say whether the bar is
        # shown; asking Qt that for each of a transcript's rows adds up.
        sizes = (view.width(), view.viewport().width())
        if self._content_width_for[0] != sizes:
            bar = view.verticalScrollBar()
            width = sizes[1]
            if not bar.isVisibleTo(view):  # (the scroll area shows and hides the bar's container)
                width -= view.style().pixelMetric(_SCROLL_BAR_EXTENT, None, bar)
            self._content_width_for = (sizes, width)
        return self._content_width_for[1]

    def _header_font(self, font: QFont) -> QFont:
        f = QFont(font)
        f.setBold(True)
        return f

    def _text_width(self, turn: Turn, bubble_width: int | None = None) -> int:
        width = self._bubble_width() if bubble_width is None else bubble_width
        return width - 2 * self.PAD - (self.GUTTER if turn.role is Role.THERAPIST else 0)

    def _header_height(self, font: QFont) -> int:
        key = font.key()
        height = self._header_heights.get(key)
        if height is None:
            height = self._header_heights[key] = QFontMetrics(self._header_font(font), self._view.viewport()).height()
        return height

    def text_layout(self, turn: Turn, font: QFont, width: int) -> QTextLayout:
        # Kept: measuring a row lays its text out, and painting it (every
        # repaint of the screen, e.g. after each decision) reuses that layout.
        key = (turn.id, hash(turn.text), width, font.key())
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= self.LAYOUTS_KEPT:
                self._layouts.clear()
            layout = self._layouts[key] = lay_out_body(turn.text, font, width, self._view.viewport())
        return layout

    def card(self, rect: QRect, turn: Turn, font: QFont, bubble_width: int | None = None) -> Card:
        """The one geometry both sizeHint and paint use, so what is measured is what is drawn."""
        width = self._bubble_width() if bubble_width is None else bubble_width
        x = rect.left() + self.MARGIN + (self.INDENT if turn.role is Role.THERAPIST else 0)
        bubble = QRect(x, rect.top() + self.MARGIN, width, rect.height() - 2 * self.MARGIN)
        left = bubble.left() + self.PAD + (self.GUTTER if turn.role is Role.THERAPIST else 0)
        text_width = self._text_width(turn, width)
        header = QRect(left, bubble.top() + self.PAD, text_width, self._header_height(font))
        layout = self.text_layout(turn, font, text_width)
        body = QRect(left, header.top() + header.height() + self.HEADER_GAP, text_width, body_height(layout))
        return Card(bubble, header, body, layout)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        turn: Turn = index.data(TurnRole)
        width = self._bubble_width()
        # The text is in the key: a turn's text can change under the same id.
        key = (turn.id, hash(turn.text), width, option.font.key())
        height = self._heights.get(key)
        if height is None:
            card = self.card(QRect(0, 0, width, 0), turn, option.font, width)
            height = (card.body.bottom() + 1) + self.PAD + self.MARGIN
            if len(self._heights) > 20_000:
                self._heights.clear()
            self._heights[key] = height
        return QSize(self._view.viewport().width(), height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        turn: Turn = index.data(TurnRole)
        state = index.data(StateRole)
        eligible: bool = index.data(EligibleRole)
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        current = bool(option.state & QStyle.StateFlag.State_HasFocus) or (
            self._view.currentIndex().row() == index.row()
        )
        card = self.card(option.rect, turn, option.font)
        bubble = card.bubble

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = theme.bubble(palette, turn.role)
        if selected:
            fill = theme.blend(fill, palette.color(QPalette.ColorRole.Highlight), 0.25)
        painter.setBrush(fill)
        accent = palette.color(QPalette.ColorRole.Highlight)
        if current:
            painter.setPen(QPen(accent, 2.5))
        else:
            painter.setPen(QPen(theme.blend(fill, palette.color(QPalette.ColorRole.Text), 0.12), 1))
        painter.drawRoundedRect(bubble.adjusted(1, 1, -1, -1), 8, 8)
        if eligible:
            # A bar down the left edge marks a turn the model could learn from.
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(accent)
            painter.drawRoundedRect(QRect(bubble.left() + 3, bubble.top() + 8, 4, bubble.height() - 16), 2, 2)

        header_font = self._header_font(option.font)
        header = card.header
        header_h = header.height()
        text_colour = palette.color(QPalette.ColorRole.Text)
        muted = theme.muted_text(palette)
        painter.setFont(header_font)
        painter.setPen(text_colour if turn.role is Role.THERAPIST else muted)
        # The same turn number as the decision panel and `attune show`.
        who = f"{turn.number}  ·  {turn.speaker or turn.role.value.title()}"
        if turn.role is Role.THERAPIST:
            who += f"  ·  {turn.word_count} words" + ("" if eligible else " (short)")

        badges = state_badges(state) if turn.role is not Role.OTHER else []  # client turns can be excluded
        bx = header.right()
        painter.setFont(option.font)
        fm = QFontMetrics(option.font)
        for text, status in reversed(badges):
            w = fm.horizontalAdvance(text) + 12
            box = QRect(bx - w, header.top(), w, header_h)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(theme.blend(fill, theme.status_colour(palette, status), 0.2))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(theme.status_colour(palette, status))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            bx -= w + 4
        # The header gets what the badges leave; a narrow card ends it with "…", never under a badge.
        room = QRect(header.left(), header.top(), max(0, bx - header.left() + 1), header_h)
        painter.setFont(header_font)
        painter.setPen(text_colour if turn.role is Role.THERAPIST else muted)
        who = QFontMetrics(header_font, self._view.viewport()).elidedText(who, Qt.TextElideMode.ElideRight, room.width())
        painter.drawText(room, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, who)

        painter.setFont(option.font)
        painter.setPen(text_colour if (eligible or turn.role is not Role.THERAPIST) else muted)
        card.text.draw(painter, QPointF(card.body.topLeft()))
        painter.restore()


class ConversationView(QListView):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("conversationView")
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setMouseTracking(False)
        self.delegate = TurnDelegate(self)
        self.setItemDelegate(self.delegate)
        self.verticalScrollBar().setSingleStep(24)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            # QListView lays a top-to-bottom list out again only when its height
            # changes, but a card's height follows the width: rows measured at the
            # old width would overlap, or cut off their last line, once narrower.
            self.scheduleDelayedItemsLayout()

    def show_with_context(self, index: QModelIndex) -> None:
        """Scroll so the turn sits a little below the top, its lead-in visible above."""
        self.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)
        rect = self.visualRect(index)
        viewport_h = self.viewport().height()
        target_top = int(viewport_h * 0.35) if rect.height() < viewport_h * 0.6 else int(viewport_h * 0.1)
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + rect.top() - target_top)
