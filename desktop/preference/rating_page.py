"""The blinded A/B rating screen: context above, Response A and B side by side.

Keys: A, B, T (tie), Z (both bad), S (skip), Backspace (undo the last vote).
Each vote is committed at once (a session vote through a CollectionOp, a
package vote into its file), so closing at any point loses nothing and the
screen resumes at the first unrated pair. The screen only ever holds what
core's ``RaterQueue`` or a package holds: an opaque key, the context and two
texts; no system name appears anywhere on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.changes import OpChanges
from core.preference.packages import Package
from core.preference.sessions import RaterQueue
from desktop.operations import preference as ops

KEYS = {"A": "a", "B": "b", "T": "t", "Z": "z", "S": "s"}
HINT = "A: Response A better · B: Response B better · T: tie · Z: both bad · S: skip · Backspace: undo"


@dataclass(frozen=True, slots=True)
class ScreenItem:
    key: str
    context: tuple[tuple[str, str], ...]
    response_a: str
    response_b: str
    vote: str | None


def _reader(name: str, font: QFont) -> QPlainTextEdit:
    view = QPlainTextEdit()
    view.setObjectName(name)
    view.setReadOnly(True)
    view.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # letters are votes, never typed into a view
    view.setFont(font)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    return view


class RatingPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("ratingPage")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.items: list[ScreenItem] = []
        self.index: int | None = None
        self.session_id: int | None = None
        self.rater: str | None = None
        self.package: Package | None = None
        self.busy = False
        self._setup: ops.RatingSetup | None = None

        self.session_box = QComboBox()
        self.session_box.setObjectName("abSessionBox")
        self.rater_box = QComboBox()
        self.rater_box.setObjectName("abRaterBox")
        self.start_button = QPushButton("Start rating")
        self.start_button.setObjectName("abStartButton")
        self.start_button.clicked.connect(lambda: self.start_session())
        self.open_button = QPushButton("Open rating package…")
        self.open_button.clicked.connect(lambda: self.choose_package())
        self.session_box.currentIndexChanged.connect(self._fill_raters)
        top = QHBoxLayout()
        top.addWidget(QLabel("Session:"))
        top.addWidget(self.session_box, 1)
        top.addWidget(QLabel("Rater:"))
        top.addWidget(self.rater_box)
        top.addWidget(self.start_button)
        top.addWidget(self.open_button)

        # One font for both replies (and the context): nothing but the words differs.
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)
        self.context_view = _reader("abContext", font)
        self.response_a = _reader("abResponseA", font)
        self.response_b = _reader("abResponseB", font)
        grid = QGridLayout()
        for col, (title, view) in enumerate((("Response A", self.response_a), ("Response B", self.response_b))):
            label = QLabel(title)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(label, 0, col)
            grid.addWidget(view, 1, col)
            grid.setColumnStretch(col, 1)

        self.comment = QLineEdit()
        self.comment.setObjectName("abComment")
        self.comment.setPlaceholderText("Optional comment, saved with the next vote (Enter returns to the keys)")
        self.comment.returnPressed.connect(self.setFocus)
        self.progress = QLabel("")
        self.progress.setObjectName("abProgress")
        self.status = QLabel(HINT)
        self.status.setObjectName("abStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.comment, 1)
        bottom.addWidget(self.progress)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel("Conversation so far"))
        layout.addWidget(self.context_view, 2)
        layout.addLayout(grid, 3)
        layout.addLayout(bottom)
        layout.addWidget(self.status)

        for key, choice in KEYS.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda c=choice: self.vote(c))
        undo = QShortcut(QKeySequence(Qt.Key.Key_Backspace), self)
        undo.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        undo.activated.connect(self.undo)
        self.refresh_sessions()

    # Loading ##################################################################

    def refresh_sessions(self) -> None:
        ops.load_rating_setup(parent=self).success(self._show_setup).run_in_background()

    def _show_setup(self, setup: ops.RatingSetup) -> None:
        self._setup = setup
        current = self.session_box.currentData()
        self.session_box.blockSignals(True)
        self.session_box.clear()
        for s in setup.sessions:
            self.session_box.addItem(s.label, s.id)
        self.session_box.blockSignals(False)
        if current is not None and self.session_box.findData(current) >= 0:
            self.session_box.setCurrentIndex(self.session_box.findData(current))
        self._fill_raters()
        self.start_button.setEnabled(bool(setup.sessions))
        if not setup.sessions and not self.items:
            # Sessions are set up on the command line (or arrive as a package): say how.
            self.status.setText(
                "No A/B session yet: set one up with `attune ab new --dataset D --systems A,B,therapist`, "
                "or open a rating package (File ▸ Open rating package…)."
            )

    def _fill_raters(self) -> None:
        self.rater_box.clear()
        if self._setup is None or self.session_box.currentData() is None:
            return
        choice = next(s for s in self._setup.sessions if s.id == self.session_box.currentData())
        self.rater_box.addItems(list(choice.raters))
        if self._setup.current_rater in choice.raters:
            self.rater_box.setCurrentText(self._setup.current_rater)

    def start_session(self, session_id: int | None = None, rater: str | None = None) -> None:
        """Rate a session of this workspace (resumes at the first unrated pair)."""
        session_id = session_id if session_id is not None else self.session_box.currentData()
        rater = rater or self.rater_box.currentText()
        if session_id is None or not rater:
            return
        self.package = None
        ops.load_queue(parent=self, session_id=session_id, rater=rater).success(
            lambda q: self._show_queue(q, session_id, rater)
        ).run_in_background()

    def _show_queue(self, queue: RaterQueue, session_id: int, rater: str) -> None:
        self.session_id, self.rater = session_id, rater
        self.items = [ScreenItem(i.key, i.context, i.response_a, i.response_b, i.vote) for i in queue.items]
        self._go(queue.next_index())
        self.setFocus()

    def choose_package(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open rating package", "", "Rating packages (*.json);;All files (*)")
        if path:
            self.open_package(Path(path))

    def open_package(self, path: Path) -> None:
        ops.open_package(parent=self, path=path).success(self._show_package).run_in_background()

    def _show_package(self, package: Package) -> None:
        self.package, self.session_id, self.rater = package, None, None
        votes = package.votes
        self.items = [
            ScreenItem(i["id"], tuple((t.get("role", ""), t.get("text", "")) for t in i.get("context", [])),
                       i["response_a"], i["response_b"], votes[i["id"]]["choice"] if i["id"] in votes else None)
            for i in package.items
        ]
        self._go(next((n for n, i in enumerate(self.items) if i.vote is None), None))
        self.setFocus()

    # Showing ##################################################################

    def _go(self, index: int | None) -> None:
        self.index = index
        done = sum(1 for i in self.items if i.vote is not None)
        self.progress.setText(f"{done} / {len(self.items)}")
        if index is None:
            for view in (self.context_view, self.response_a, self.response_b):
                view.clear()
            self.status.setText(f"All {len(self.items)} pairs rated. Backspace undoes the last vote."
                                if self.items else "Nothing to rate.")
            return
        item = self.items[index]
        self.context_view.setPlainText("\n\n".join(
            f"{'Client' if role == 'client' else 'Therapist'}: {text}" for role, text in item.context))
        self.response_a.setPlainText(item.response_a)
        self.response_b.setPlainText(item.response_b)
        self.status.setText(HINT)

    def current_item(self) -> ScreenItem | None:
        return self.items[self.index] if self.index is not None else None

    # Voting ###################################################################

    def vote(self, choice: str) -> None:
        item = self.current_item()
        if item is None or self.busy:
            return
        comment = self.comment.text()
        self.busy = True

        def done(_result: object = None) -> None:
            self.busy = False
            self.comment.clear()
            self.items[self.items.index(item)] = replace(item, vote=choice)
            self._go(next((n for n, i in enumerate(self.items) if i.vote is None), None))

        if self.package is not None:
            op = ops.record_package_vote(parent=self, package=self.package, key=item.key, choice=choice,
                                         comment=comment)
        elif self.session_id is not None and self.rater:
            op = ops.cast_vote(parent=self, session_id=self.session_id, rater=self.rater, key=item.key,
                               choice=choice, comment=comment)
        else:
            self.busy = False
            return
        op.success(done).finally_(self._not_busy).run_in_background(initiator=self)

    def undo(self) -> None:
        if self.busy or (self.package is None and self.session_id is None):
            return
        self.busy = True

        def done(result: object) -> None:
            key = getattr(result, "value", result)
            if key is None:
                self.status.setText("Nothing to undo.")
                return
            n = next(n for n, i in enumerate(self.items) if i.key == key)
            self.items[n] = replace(self.items[n], vote=None)
            self._go(n)
            self.status.setText("Vote undone: rate this pair again.")

        if self.package is not None:
            op = ops.undo_package_vote(parent=self, package=self.package)
        else:
            assert self.session_id is not None and self.rater is not None
            op = ops.undo_vote(parent=self, session_id=self.session_id, rater=self.rater)
        op.success(done).finally_(self._not_busy).run_in_background(initiator=self)

    def _not_busy(self) -> None:
        self.busy = False

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        # A new rater or dataset may change which sessions and raters to offer.
        if initiator is not self and (changes.datasets or changes.settings):
            self.refresh_sessions()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_sessions()  # sessions set up meanwhile (attune ab new) appear
