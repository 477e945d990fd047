"""The decision panel: what is decided about the current turn.

It only *shows* state that a query read back from the store after the
operation committed; its decision buttons emit the same commands as the keys.
Two actions live here because they need the panel's own widgets: redacting
the text selected in the turn's text box, and excluding a client turn (the
keys decide therapist turns).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.models import Role
from desktop.curation.shortcuts import by_command
from core.curation import Status
from desktop.curation.turn_text import describe_record
from desktop.curation.reason_picker import ReasonPicker
from desktop.operations import curation as ops
from desktop.operations.curation import TurnDetail


def python_offset(text: str, qt_position: int) -> int:
    """A Qt text position (UTF-16 code units) as an offset into the Python string."""
    units = 0
    for i, ch in enumerate(text):
        if units >= qt_position:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def qt_position(text: str, offset: int) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text[:offset])


def _button(text: str, command: str) -> QPushButton:
    key = by_command(command).keys[0]
    b = QPushButton(f"{text}  ({key})")
    b.setObjectName(f"button_{command}")
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the conversation
    b.setToolTip(by_command(command).description)
    return b


class DecisionPanel(QWidget):
    command = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("decisionPanel")
        self.setMinimumWidth(260)
        self.title = QLabel("No turn selected")
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # speaker labels come from imported files
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.title.setFont(font)

        self.words = QLabel("–")
        self.questions = QLabel("–")
        self.status = QLabel("–")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setObjectName("panelStatus")
        self.status.setWordWrap(True)
        self.rating = QLabel("–")
        self.rating.setObjectName("panelRating")
        self.flag = QLabel("–")
        self.flag.setObjectName("panelFlag")
        self.note = QLabel("–")
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setObjectName("panelNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        facts = QFormLayout()
        facts.addRow("Words", self.words)
        facts.addRow("Question marks", self.questions)
        facts.addRow("Status", self.status)
        facts.addRow("Rating", self.rating)
        facts.addRow("Flag", self.flag)
        facts.addRow("Note", self.note)

        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for i, (text, cmd) in enumerate(
            [("Include", "include"), ("Exclude…", "exclude"), ("Flag", "toggle_flag"), ("Note…", "edit_note"), ("Clear", "clear_decision")]
        ):
            b = _button(text, cmd)
            b.clicked.connect(lambda _=False, c=cmd: self.command.emit(c))
            self.buttons[cmd] = b
            grid.addWidget(b, i // 2, i % 2)
        stars = QHBoxLayout()
        stars.addWidget(QLabel("Rate"))
        for n in range(1, 6):
            b = QPushButton(str(n))
            b.setObjectName(f"button_rate_{n}")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setCheckable(True)
            b.setToolTip(by_command(f"rate_{n}").description)
            b.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            b.setMinimumWidth(28)
            b.clicked.connect(lambda _=False, c=f"rate_{n}": self.command.emit(c))
            self.buttons[f"rate_{n}"] = b
            stars.addWidget(b)

        # Client turns: excluded from the panel (the keys decide therapist turns).
        client_row = QHBoxLayout()
        self.exclude_client_button = QPushButton("Exclude client turn…")
        self.exclude_client_button.setObjectName("button_exclude_client")
        self.exclude_client_button.setToolTip(
            "Keep every word of this client turn out of exports and prompts (contexts start after it)")
        self.exclude_client_button.clicked.connect(self.exclude_client_turn)
        self.clear_client_button = QPushButton("Clear")
        self.clear_client_button.setObjectName("button_clear_client")
        self.clear_client_button.clicked.connect(self.clear_client_turn)
        for b in (self.exclude_client_button, self.clear_client_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            client_row.addWidget(b)

        # The turn's text: select words and redact them.
        self.text = QPlainTextEdit()
        self.text.setObjectName("turnText")
        self.text.setReadOnly(True)
        self.text.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.text.setMinimumHeight(40)
        self.text.selectionChanged.connect(self._selection_changed)
        self.redact_button = QPushButton("Redact selection")
        self.redact_button.setObjectName("button_redact")
        self.redact_button.setToolTip("Exports and prompts show [redacted] instead of the selected text")
        self.redact_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.redact_button.clicked.connect(self.redact_selection)
        self.redactions = QListWidget()
        self.redactions.setObjectName("redactionList")
        self.redactions.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.redactions.setMaximumHeight(80)
        self.redactions.currentRowChanged.connect(lambda _row: self._update_redaction_buttons())
        self.unredact_button = QPushButton("Remove my redaction")
        self.unredact_button.setObjectName("button_unredact")
        self.unredact_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.unredact_button.clicked.connect(self.remove_redaction)
        text_box = QWidget()
        text_box.setObjectName("redactTab")
        tl = QVBoxLayout(text_box)
        tl.setContentsMargins(4, 4, 4, 4)
        hint = QLabel("Select words, then redact them: exports and prompts show [redacted].")
        hint.setWordWrap(True)
        tl.addWidget(hint)
        tl.addWidget(self.text)
        tl.addWidget(self.redact_button)
        tl.addWidget(self.redactions)
        tl.addWidget(self.unredact_button)

        self.history = QListWidget()
        self.history.setObjectName("decisionHistory")
        self.history.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.history.setWordWrap(True)
        # History and the text to redact share one space (tabs), so the panel
        # is no taller than before and the window still fits small screens.
        self.tabs = QTabWidget()
        self.tabs.setObjectName("panelTabs")
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(text_box, "Redact text")

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(facts)
        layout.addLayout(grid)
        layout.addLayout(stars)
        layout.addLayout(client_row)
        layout.addWidget(self.tabs, 1)
        self.show_detail(None)

    reason_picker: ReasonPicker | None = None

    def show_detail(self, detail: TurnDetail | None, *, transcript_title: str = "") -> None:
        self.detail = detail
        turn = detail.turn if detail else None
        decidable = turn is not None and turn.role is Role.THERAPIST
        for b in self.buttons.values():
            b.setEnabled(decidable)
        client = turn is not None and turn.role is Role.CLIENT
        self.exclude_client_button.setVisible(client)
        self.clear_client_button.setVisible(client)
        self._show_text(detail)
        if turn is None:
            self.title.setText("No turn selected")
            for label in (self.words, self.questions, self.status, self.rating, self.flag, self.note):
                label.setText("–")
            self.history.clear()
            return
        where = f" of “{transcript_title}”" if transcript_title else ""
        self.title.setText(f"Turn {turn.number}{where} · {turn.speaker or turn.role.value.title()}")
        self.words.setText(str(turn.word_count))
        self.questions.setText(str(turn.text.count("?")))
        if not decidable:
            state = detail.state
            if client:
                text = str(state.status).title()
                if state.status is Status.EXCLUDED and state.reason:
                    text += f": {state.reason}"
                if state.effective_status is Status.EXCLUDED and state.status is not Status.EXCLUDED:
                    text += "\nExcluded by another rater"
                self.status.setText(text + "\n(client turns can be excluded, not included)")
                self.exclude_client_button.setEnabled(True)
                self.clear_client_button.setEnabled(state.status is not Status.UNREVIEWED)
            else:
                self.status.setText("Only therapist and client turns are decided")
            for label in (self.rating, self.flag, self.note):
                label.setText("–")
            self.history.clear()
            for rec in reversed(detail.history):
                self.history.addItem(describe_record(rec))
            return
        state = detail.state
        text = str(state.status).title()
        if state.status is Status.EXCLUDED and state.reason:
            text += f": {state.reason}"
        if state.rater_count > 1:
            text += f"\nAll {state.rater_count} raters: {state.effective_status}"
        self.status.setText(text)
        rating = state.rating
        self.rating.setText("★" * rating + "☆" * (5 - rating) if rating else "not rated")
        for n in range(1, 6):
            self.buttons[f"rate_{n}"].setChecked(rating == n)
        self.flag.setText("⚑ flagged for review" if state.flagged else "not flagged")
        self.note.setText(state.note or "no note")
        self.questions.setText(str(state.question_marks))
        self.history.clear()
        for rec in reversed(detail.history):
            self.history.addItem(describe_record(rec))

    # Redaction and client exclusion (run here: they need this panel's widgets) ##

    def _show_text(self, detail: TurnDetail | None) -> None:
        self.text.blockSignals(True)
        self.text.setPlainText(detail.turn.text if detail else "")
        self.text.blockSignals(False)
        self.redactions.clear()
        selections = []
        if detail is not None:
            text = detail.turn.text
            mark = QTextCharFormat()
            mark.setBackground(QColor(0, 0, 0, 60))
            mark.setFontStrikeOut(True)
            for span in detail.spans:
                cursor = QTextCursor(self.text.document())
                cursor.setPosition(qt_position(text, span.start))
                cursor.setPosition(qt_position(text, span.end), QTextCursor.MoveMode.KeepAnchor)
                sel = QTextEdit.ExtraSelection()
                sel.cursor, sel.format = cursor, mark  # type: ignore[misc]
                selections.append(sel)
                item = QListWidgetItem(f"“{text[span.start:span.end]}” ({span.start}–{span.end}, {span.rater})")
                item.setData(Qt.ItemDataRole.UserRole, span)
                self.redactions.addItem(item)
        self.text.setExtraSelections(selections)
        self.redactions.setVisible(bool(self.redactions.count()))
        self.unredact_button.setVisible(bool(self.redactions.count()))
        self._selection_changed()
        self._update_redaction_buttons()

    def selected_span(self) -> tuple[int, int] | None:
        """The selection in the text box as Python offsets into the turn's text, if any."""
        if self.detail is None:
            return None
        cursor = self.text.textCursor()
        if not cursor.hasSelection():
            return None
        text = self.detail.turn.text
        start = python_offset(text, cursor.selectionStart())
        end = python_offset(text, cursor.selectionEnd())
        return (start, end) if start < end else None

    def _selection_changed(self) -> None:
        self.redact_button.setEnabled(self.selected_span() is not None)

    def _update_redaction_buttons(self) -> None:
        item = self.redactions.currentItem()
        own = (item is not None and self.detail is not None
               and item.data(Qt.ItemDataRole.UserRole).rater == self.detail.state.rater)
        self.unredact_button.setEnabled(own)

    def redact_selection(self) -> None:
        span = self.selected_span()
        if span is None or self.detail is None:
            return
        ops.redact_span(parent=self, turn_id=self.detail.turn.id, start=span[0], end=span[1],
                        rater=self.detail.state.rater).run_in_background(initiator=self)

    def remove_redaction(self) -> None:
        item = self.redactions.currentItem()
        if item is None or self.detail is None:
            return
        span = item.data(Qt.ItemDataRole.UserRole)
        ops.unredact_span(parent=self, turn_id=span.turn_id, start=span.start, end=span.end,
                          rater=self.detail.state.rater).run_in_background(initiator=self)

    def exclude_client_turn(self) -> None:
        if self.detail is None:
            return
        detail = self.detail
        picker = ReasonPicker(self.window(), count=1)
        self.reason_picker = picker

        def chosen(result: int) -> None:
            self.reason_picker = None
            picker.deleteLater()
            if result != ReasonPicker.DialogCode.Accepted:
                return
            ops.exclude_turns(parent=self, turn_ids=[detail.turn.id], rater=detail.state.rater,
                              reason=picker.reason(), note=picker.note_text()).run_in_background(initiator=self)

        picker.finished.connect(chosen)
        picker.open()

    def clear_client_turn(self) -> None:
        if self.detail is None:
            return
        ops.clear_turns(parent=self, turn_ids=[self.detail.turn.id],
                        rater=self.detail.state.rater).run_in_background(initiator=self)
