"""The decision panel: what is decided about the current therapist turn.

It only *shows* state that a query read back from the store after the
operation committed; its buttons emit the same commands as the keys.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.models import Role
from desktop.curation.shortcuts import by_command
from core.curation import Status
from desktop.curation.turn_text import describe_record
from desktop.operations.curation import TurnDetail


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
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.title.setFont(font)

        self.words = QLabel("–")
        self.questions = QLabel("–")
        self.status = QLabel("–")
        self.status.setObjectName("panelStatus")
        self.status.setWordWrap(True)
        self.rating = QLabel("–")
        self.rating.setObjectName("panelRating")
        self.flag = QLabel("–")
        self.flag.setObjectName("panelFlag")
        self.note = QLabel("–")
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

        self.history = QListWidget()
        self.history.setObjectName("decisionHistory")
        self.history.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.history.setWordWrap(True)
        history_box = QGroupBox("History")
        hl = QVBoxLayout(history_box)
        hl.addWidget(self.history)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(facts)
        layout.addLayout(grid)
        layout.addLayout(stars)
        layout.addWidget(history_box, 1)
        self.show_detail(None)

    def show_detail(self, detail: TurnDetail | None, *, transcript_title: str = "") -> None:
        self.detail = detail
        turn = detail.turn if detail else None
        decidable = turn is not None and turn.role is Role.THERAPIST
        for b in self.buttons.values():
            b.setEnabled(decidable)
        if turn is None:
            self.title.setText("No turn selected")
            for label in (self.words, self.questions, self.status, self.rating, self.flag, self.note):
                label.setText("–")
            self.history.clear()
            return
        where = f" of “{transcript_title}”" if transcript_title else ""
        self.title.setText(f"Turn {turn.position + 1}{where} · {turn.speaker or turn.role.value.title()}")
        self.words.setText(str(turn.word_count))
        self.questions.setText(str(turn.text.count("?")))
        if not decidable:
            self.status.setText("Only therapist turns are decided")
            for label in (self.rating, self.flag, self.note):
                label.setText("–")
            self.history.clear()
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
