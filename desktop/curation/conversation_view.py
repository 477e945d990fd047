"""The conversation: every turn of one transcript, painted by one delegate.

A single ``QListView`` over a flat model, not a widget per turn, so opening a
1,000-turn transcript costs one model reset and the view only paints what is
on screen. Row heights depend on the wrapped text and the view's width; they
are cached per (turn, width) so scrolling never re-measures.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from core.ids import TurnId
from core.models import Role, Turn
from desktop import theme
from desktop.curation.turn_text import state_badges

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
        self._states.update(states)
        rows = [self._rows[t] for t in states if t in self._rows]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [StateRole])

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


class TurnDelegate(QStyledItemDelegate):
    PAD = 10  # inside a bubble
    MARGIN = 6  # between bubbles
    INDENT = 56  # how far a bubble leaves room on the other speaker's side

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self._heights: dict[tuple[int, int, str], int] = {}

    def _bubble_width(self) -> int:
        return max(160, self._view.viewport().width() - self.INDENT - 2 * self.MARGIN)

    def _header_font(self, font: QFont) -> QFont:
        f = QFont(font)
        f.setBold(True)
        return f

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        turn: Turn = index.data(TurnRole)
        width = self._bubble_width()
        key = (turn.id, width, option.font.key())
        height = self._heights.get(key)
        if height is None:
            fm = QFontMetrics(option.font)
            text_h = fm.boundingRect(
                QRect(0, 0, width - 2 * self.PAD, 1_000_000), Qt.TextFlag.TextWordWrap, turn.text
            ).height()
            header_h = QFontMetrics(self._header_font(option.font)).height()
            height = header_h + 4 + text_h + 2 * self.PAD + 2 * self.MARGIN
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
        width = self._bubble_width()
        r = option.rect
        x = r.left() + self.MARGIN + (self.INDENT if turn.role is Role.THERAPIST else 0)
        bubble = QRect(x, r.top() + self.MARGIN, width, r.height() - 2 * self.MARGIN)

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

        inner = bubble.adjusted(self.PAD + (4 if eligible else 0), self.PAD, -self.PAD, -self.PAD)
        header_font = self._header_font(option.font)
        header_h = QFontMetrics(header_font).height()
        header = QRect(inner.left(), inner.top(), inner.width(), header_h)
        text_colour = palette.color(QPalette.ColorRole.Text)
        muted = theme.muted_text(palette)
        painter.setFont(header_font)
        painter.setPen(text_colour if turn.role is Role.THERAPIST else muted)
        who = turn.speaker or turn.role.value.title()
        if turn.role is Role.THERAPIST:
            who += f"  ·  {turn.word_count} words" + ("" if eligible else " (short)")
        painter.drawText(header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, who)

        badges = state_badges(state) if turn.role is Role.THERAPIST else []
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

        painter.setFont(option.font)
        painter.setPen(text_colour if (eligible or turn.role is not Role.THERAPIST) else muted)
        body = QRect(inner.left(), header.bottom() + 4, inner.width() - (4 if eligible else 0), inner.bottom() - header.bottom() - 4)
        painter.drawText(body, Qt.TextFlag.TextWordWrap, turn.text)
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

    def show_with_context(self, index: QModelIndex) -> None:
        """Scroll so the turn sits a little below the top, its lead-in visible above."""
        self.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)
        rect = self.visualRect(index)
        viewport_h = self.viewport().height()
        target_top = int(viewport_h * 0.35) if rect.height() < viewport_h * 0.6 else int(viewport_h * 0.1)
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + rect.top() - target_top)
