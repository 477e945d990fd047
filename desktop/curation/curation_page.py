"""The curation screen's controller: it wires the list, conversation and panel.

Views here only show what a query read back after an operation committed;
every decision goes out as an op from ``desktop.operations.curation`` and
comes back through ``op_executed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from core.changes import OpChanges
from core.curation import Status
from core.ids import TranscriptId, TurnId
from core.models import Category, Role, Turn
from core.text_safety import rich_text_literal
from desktop.curation.conversation_view import ConversationModel, ConversationView, TurnRole
from desktop.curation.decision_panel import DecisionPanel
from desktop.curation.navigation import EligibleOrder
from desktop.curation.note_dialog import NoteDialog
from desktop.curation.reason_picker import ReasonPicker
from desktop.curation.search_bar import SearchBar
from desktop.curation.transcript_list import TranscriptList
from desktop.operations import CollectionOp
from desktop.operations import curation as ops

SUMMARY_REFRESH_MS = 400
MIN_WORDS_SETTLE_MS = 350


class LayoutBoundary(QWidget):
    """One line of text whose changes stop here instead of laying out the window.

    ``QLabel.setText`` asks every layout up to the window to lay out again,
    and the window then repaints all of itself: on each transcript switch the
    heading's new title repainted the conversation's cards and the 13,000-row
    list too. This holder has no layout (the label is placed by hand), so the
    label's request ends here; its own height is fixed at one line.
    """

    def __init__(self, child: QWidget) -> None:
        super().__init__()
        child.setParent(self)
        self._child = child
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(child.fontMetrics().height() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._child.setGeometry(self.rect())


class CurationPage(QWidget):
    message = Signal(str)
    conversation_shown = Signal(int)  # TranscriptId, after its turns are on screen
    detail_shown = Signal(int)  # TurnId, after the panel shows its committed state

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("curationPage")
        self.rater: str | None = None
        self.min_words = ops.DEFAULT_MIN_WORDS
        self.order: EligibleOrder | None = None
        self.current_transcript = None  # core.models.Transcript
        self._loading: TranscriptId | None = None
        self._pending_turn: TurnId | None = None
        self._decided_elsewhere = False
        self._first_detail: ops.TurnDetail | None = None  # read with the first screen, shown once
        # Broadcasts seen so far, and the turn whose detail was last asked for
        # after which of them: a read asked for after a commit's broadcast runs
        # after that commit (one database thread), so it is already fresh.
        self._broadcasts = 0
        self._detail_asked: tuple[TurnId, int] | None = None
        self.reason_picker: ReasonPicker | None = None
        self.note_dialog: NoteDialog | None = None

        self.transcripts = TranscriptList()
        self.search = SearchBar(self._title_of)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(6, 6, 0, 6)
        ll.addWidget(self.search)
        ll.addWidget(self.transcripts, 1)

        self.conversation_model = ConversationModel()
        self.conversation = ConversationView()
        self.conversation.setModel(self.conversation_model)
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.PlainText)  # the title comes from an imported file
        self.heading.setObjectName("conversationHeading")
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        # A long title must not dictate the column's minimum width.
        self.heading.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.min_words_box = QSpinBox()
        self.min_words_box.setObjectName("minWords")
        self.min_words_box.setRange(1, 2000)
        self.min_words_box.setSuffix(" words")
        self.min_words_box.setPrefix("eligible at ≥ ")
        self.min_words_box.setKeyboardTracking(False)
        self.min_words_box.setToolTip("Therapist turns with at least this many words can go into a dataset")
        top = QHBoxLayout()
        top.addWidget(LayoutBoundary(self.heading), 1)
        top.addWidget(self.min_words_box)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 6, 0, 6)
        cl.addLayout(top)
        cl.addWidget(self.conversation, 1)

        self.panel = DecisionPanel()
        # The panel sits in a scroll area so its own layout changes stay inside
        # it: its word-wrapped labels change height with each turn's title,
        # status and note, and without this boundary every such change laid the
        # whole window out again and repainted all of it (the conversation's
        # cards and the 13,000-row list included), 10-20 ms of the GUI thread
        # that the next key press's committed decision queued behind. It also
        # lets the panel scroll on a small screen instead of squeezing.
        self.panel_area = QScrollArea()
        self.panel_area.setObjectName("decisionPanelArea")
        self.panel_area.setWidgetResizable(True)
        self.panel_area.setFrameShape(QFrame.Shape.NoFrame)
        self.panel_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.panel_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the conversation
        self.panel_area.setWidget(self.panel)
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.panel_area.setMinimumWidth(self.panel.minimumWidth() + bar)  # never narrower than the panel
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("curationSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.panel_area)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([420, 640, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(SUMMARY_REFRESH_MS)
        self._summary_timer.timeout.connect(self.reload_summaries)
        # What a committed decision changes on screen is read back once the
        # broadcast is over (a zero timer), so the key press's own commit
        # reaches every screen first and a burst of decisions reads back once.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self._refresh_decided)

        self.transcripts.transcript_activated.connect(lambda tid: self.open_transcript(TranscriptId(tid)))
        self.transcripts.filters_changed.connect(self.reload_summaries)
        self.search.hit_chosen.connect(lambda turn, tr: self.select_turn(TurnId(turn), TranscriptId(tr)))
        self.search.done.connect(self.focus_conversation)
        self.conversation.selectionModel().currentChanged.connect(self._current_changed)
        self.panel.command.connect(self.run_command)
        # Holding an arrow on the spin box: save and recount once it settles.
        self._min_words_timer = QTimer(self)
        self._min_words_timer.setSingleShot(True)
        self._min_words_timer.setInterval(MIN_WORDS_SETTLE_MS)
        self._min_words_timer.timeout.connect(lambda: self._min_words_edited(self.min_words_box.value()))
        self.min_words_box.valueChanged.connect(lambda _v: self._min_words_timer.start())

    # Start-up and reloading ###################################################

    def start(self, *, rater: str, min_words: int, first: ops.FirstScreen | None = None) -> None:
        """Show the rater's work; ``first`` is what the window read before it knew the rater, if that fits."""
        self.rater = rater
        self.min_words = min_words
        self.conversation_model.set_min_words(min_words)
        self.min_words_box.blockSignals(True)
        self.min_words_box.setValue(min_words)
        self.min_words_box.blockSignals(False)
        if (first is None or first.eligible is None or first.settings.rater != rater
                or first.settings.min_words != min_words):
            self.reload_all()
            return
        # The list's counts are asked for first: the database thread reads
        # them while this thread lays out the conversation already read.
        self.reload_summaries()
        self._first_detail = first.detail
        self._eligible_loaded(first.eligible, first.conversation)

    def set_rater(self, rater: str) -> None:
        self.rater = rater
        self.reload_summaries()
        self.refresh_states()
        self.refresh_detail()

    def reload_all(self) -> None:
        ops.load_eligible(parent=self, min_words=self.min_words).success(self._eligible_loaded).run_in_background()
        self.reload_summaries()

    def _eligible_loaded(self, pairs: list, conversation: ops.Conversation | None = None) -> None:
        self.order = EligibleOrder(pairs)
        if self.current_transcript is None and self._loading is None:
            if len(self.order):
                turn_id, transcript_id = self.order.turns[0], self.order.transcripts[0]
                if conversation is not None and conversation.transcript.id == transcript_id:
                    self._loading, self._pending_turn = transcript_id, turn_id
                    self._conversation_loaded(conversation)  # read already, with the eligible turns
                else:
                    self.select_turn(turn_id, transcript_id)
            elif self.transcripts.model.summaries():
                self.open_transcript(self.transcripts.model.summary(0).id)

    def reload_summaries(self) -> None:
        if self.rater is None:
            return
        self._summary_timer.stop()
        ops.load_summaries(
            parent=self,
            min_words=self.min_words,
            rater=self.rater,
            category=self.transcripts.category_filter(),
            status_filter=self.transcripts.status_filter(),
        ).success(self._summaries_loaded).run_in_background()

    def _summaries_loaded(self, summaries: list) -> None:
        keep = self.current_transcript.id if self.current_transcript else None
        self.transcripts.set_summaries(summaries, keep)
        if not summaries and self.current_transcript is None and not self.transcripts.is_filtered():
            self.heading.setText("No transcripts yet: File ▸ Import files… (Ctrl+O), or drop files on this window")
        if self.current_transcript is None and self._loading is None and self.order is not None and summaries:
            self.open_transcript(summaries[0].id)

    # Opening transcripts and turns ############################################

    def open_transcript(self, transcript_id: TranscriptId, turn_id: TurnId | None = None) -> None:
        if self.rater is None:
            return
        self._loading = transcript_id
        self._pending_turn = turn_id
        ops.load_conversation(parent=self, transcript_id=transcript_id, rater=self.rater).success(
            self._conversation_loaded
        ).failure(self._conversation_failed).run_in_background()

    def _conversation_failed(self, exc: Exception) -> None:
        from core.errors import NotFoundError
        from desktop.errors import show_exception

        if not isinstance(exc, NotFoundError) or self._loading is None:
            self.transcripts.enable_metadata()
            show_exception(self, exc)
            return
        # The transcript was deleted (Delete transcript…): open the first one left, if any.
        self._loading = None
        self.current_transcript = None
        self.conversation_model.set_turns([], {})
        self.panel.show_detail(None)
        self.heading.setText("")
        summaries = self.transcripts.model.summaries()
        if summaries:
            self.open_transcript(summaries[0].id)

    def _conversation_loaded(self, conv: ops.Conversation) -> None:
        if conv.transcript.id != self._loading:
            return  # the user has moved on to another transcript
        self._loading = None
        self.current_transcript = conv.transcript
        self.conversation_model.set_turns(conv.turns, conv.states)
        self.transcripts.select(conv.transcript.id)
        eligible = sum(1 for t in conv.turns if self.conversation_model.is_eligible(t))
        heading = f"{conv.transcript.title}  ·  {conv.transcript.category}  ·  {len(conv.turns)} turns, {eligible} eligible"
        self.heading.setText(heading)
        self.heading.setToolTip(rich_text_literal(heading))
        row = None
        if self._pending_turn is not None:
            row = self.conversation_model.row_of(self._pending_turn)
        if row is None:
            row = next((i for i, t in enumerate(conv.turns) if self.conversation_model.is_eligible(t)), 0)
        self._pending_turn = None
        if conv.turns:
            self._set_current_row(row)
        else:
            self.panel.show_detail(None)
            self.transcripts.enable_metadata()
        self.conversation_shown.emit(conv.transcript.id)

    def select_turn(self, turn_id: TurnId, transcript_id: TranscriptId) -> None:
        if self.current_transcript is not None and self.current_transcript.id == transcript_id and self._loading is None:
            row = self.conversation_model.row_of(turn_id)
            if row is not None:
                self._set_current_row(row)
                return
        self.open_transcript(transcript_id, turn_id)

    def _set_current_row(self, row: int) -> None:
        index = self.conversation_model.index(row)
        self.conversation.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.conversation.show_with_context(index)

    def current_turn(self) -> Turn | None:
        index = self.conversation.currentIndex()
        return index.data(TurnRole) if index.isValid() else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.refresh_detail()

    def refresh_detail(self, *, stale_only: bool = False) -> None:
        """Read the current turn's detail; ``stale_only``: unless it was asked for since the last broadcast."""
        turn = self.current_turn()
        if turn is None or self.rater is None:
            self.panel.show_detail(None)
            return
        asked = (turn.id, self._broadcasts)
        if stale_only and self._detail_asked == asked:
            # J pressed after a decision's broadcast already asked for this
            # turn's detail: a second read would only queue ahead of the next
            # key press's commit on the database thread, and repaint the panel.
            return
        self._detail_asked = asked
        first, self._first_detail = self._first_detail, None
        if first is not None and first.turn.id == turn.id and first.state.rater == self.rater:
            self._detail_loaded(first)  # read with the first screen; nothing has been decided since
            return
        ops.load_turn_detail(parent=self, turn_id=turn.id, rater=self.rater).success(
            self._detail_loaded
        ).run_in_background()

    def _detail_loaded(self, detail: ops.TurnDetail) -> None:
        turn = self.current_turn()
        if turn is None or turn.id != detail.turn.id:
            return  # stale: the user pressed J again meanwhile
        title = self.current_transcript.title if self.current_transcript else ""
        self.panel.show_detail(detail, transcript_title=title)
        # The list's source-metadata columns load once the first screen is
        # complete: their query would otherwise queue ahead of its reads.
        self.transcripts.enable_metadata()
        self.detail_shown.emit(detail.turn.id)

    def refresh_states(self) -> None:
        turns = self.conversation_model.turns()
        if not turns or self.rater is None:
            return
        ops.load_states(parent=self, turns=turns, rater=self.rater).success(
            self._states_loaded
        ).run_in_background()

    def _states_loaded(self, states: dict) -> None:
        self.conversation_model.set_states(states)
        if self.current_transcript is None:
            return
        # The open transcript's progress, counted from the states just read
        # (core's definition: eligible turns this rater included or excluded),
        # so a key press never waits behind a query over all 13,000 transcripts.
        row = self.transcripts.model.row_of(self.current_transcript.id)
        if row is None:
            return
        eligible = [t for t in self.conversation_model.turns() if self.conversation_model.is_eligible(t)]
        own = [self.conversation_model.state_of(t.id) for t in eligible]
        summary = self.transcripts.model.summary(row)
        self.transcripts.model.replace_summary(
            replace(
                summary,
                decided=sum(1 for st in own if st is not None and st.status is not Status.UNREVIEWED),
                flagged=sum(1 for st in own if st is not None and st.flagged),
            )
        )

    # Reacting to committed operations ##########################################

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        self._broadcasts += 1
        if changes.transcripts or changes.turns:
            self.reload_all()
            if self.current_transcript is not None:
                current = self.current_turn()
                self.open_transcript(self.current_transcript.id, current.id if current else None)
            return
        if changes.decisions:
            self._refresh_timer.start()
            if initiator is not self or self._decided_elsewhere:
                # Undo, redo or a bulk step may touch any transcript: reload
                # every summary, coalescing a burst of steps into one query.
                self._decided_elsewhere = False
                self._summary_timer.start()

    def _refresh_decided(self) -> None:
        self.refresh_states()
        self.refresh_detail(stale_only=True)

    # Commands (keys, menus and panel buttons all land here) ####################

    def run_command(self, command: str) -> None:
        if command.startswith("rate_"):
            self.rate(int(command.removeprefix("rate_")))
            return
        handler: Callable[[], None] | None = getattr(self, f"cmd_{command}", None)
        if handler is None:
            raise KeyError(f"no curation command {command!r}")
        handler()

    def _move(self, step: int) -> None:
        order = self.order
        if order is None or self.current_transcript is None:
            return
        allowed = set(self.transcripts.model.ids()) if self.transcripts.is_filtered() else None
        if self._loading is not None and self._pending_turn is not None:
            # Keys pressed while a transcript loads move on from where it will land.
            index = order.index_of(self._pending_turn)
        else:
            turn = self.current_turn()
            index = order.index_of(turn.id) if turn is not None else None
        if index is not None:
            target = order.step(index, step, allowed)
        else:
            target = self._nearest_in_transcript(step)
            if target is None:
                target = order.leave_transcript(self.current_transcript.id, step, allowed)
        if target is None:
            self.message.emit("No more eligible turns" + (" in the filtered list" if allowed is not None else ""))
            return
        self.select_turn(*target)

    def _nearest_in_transcript(self, step: int) -> tuple[TurnId, TranscriptId] | None:
        index = self.conversation.currentIndex()
        turns = self.conversation_model.turns()
        row = (index.row() if index.isValid() else -1) + step
        while 0 <= row < len(turns):
            if self.conversation_model.is_eligible(turns[row]):
                return turns[row].id, turns[row].transcript_id
            row += step
        return None

    def cmd_next_turn(self) -> None:
        self._move(+1)

    def cmd_previous_turn(self) -> None:
        self._move(-1)

    def _move_transcript(self, step: int) -> None:
        if self.order is None or self.current_transcript is None:
            return
        allowed = set(self.transcripts.model.ids()) if self.transcripts.is_filtered() else None
        target = self.order.step_transcript(self.current_transcript.id, step, allowed)
        if target is None:
            target = self.order.leave_transcript(self.current_transcript.id, step, allowed)
        if target is not None:
            self.select_turn(target[0], target[1])

    def cmd_next_transcript(self) -> None:
        self._move_transcript(+1)

    def cmd_previous_transcript(self) -> None:
        self._move_transcript(-1)

    def targets(self) -> list[TurnId]:
        """The turns a decision applies to: a multi-selection, else the current turn."""
        if self.transcripts.view.hasFocus() and self.order is not None:
            chosen = self.transcripts.selected_ids()
            if len(chosen) > 1:
                return self.order.turns_of(set(chosen))
        selected = [
            i.data(TurnRole) for i in self.conversation.selectionModel().selectedIndexes()
        ]
        therapist = sorted(
            (t for t in selected if t.role is Role.THERAPIST), key=lambda t: t.position
        )
        if len(therapist) > 1:
            return [t.id for t in therapist]
        turn = self.current_turn()
        if turn is None or turn.role is not Role.THERAPIST:
            return []
        return [turn.id]

    def _decide(
        self, make: Callable[[list[TurnId]], CollectionOp], done: str, ids: list[TurnId] | None = None
    ) -> None:
        ids = self.targets() if ids is None else ids
        if not ids:
            self.message.emit("Choose a therapist turn first")
            return
        if self.rater is None:
            return
        n = len(ids)
        what = "1 turn" if n == 1 else f"{n:,} turns"
        here = {t.id for t in self.conversation_model.turns()}
        if any(i not in here for i in ids):
            self._decided_elsewhere = True
        make(ids).success(lambda _r: self.message.emit(f"{done} {what}")).run_in_background(initiator=self)

    def cmd_include(self) -> None:
        self._decide(lambda ids: ops.include_turns(parent=self, turn_ids=ids, rater=self.rater), "Included")

    def cmd_exclude(self) -> None:
        ids = self.targets()
        if not ids:
            self.message.emit("Choose a therapist turn first")
            return
        picker = ReasonPicker(self.window(), count=len(ids))
        self.reason_picker = picker

        def chosen(result: int) -> None:
            self.reason_picker = None
            picker.deleteLater()
            self.focus_conversation()
            if result != ReasonPicker.DialogCode.Accepted:
                return
            reason, note = picker.reason(), picker.note_text()
            self._decide(
                lambda ids_: ops.exclude_turns(parent=self, turn_ids=ids_, rater=self.rater, reason=reason, note=note),
                f"Excluded ({reason.value})",
                ids,
            )

        picker.finished.connect(chosen)
        picker.open()

    def rate(self, rating: int) -> None:
        self._decide(
            lambda ids: ops.rate_turns(parent=self, turn_ids=ids, rater=self.rater, rating=rating),
            f"Rated {rating} —",
        )

    def cmd_toggle_flag(self) -> None:
        turn = self.current_turn()
        state = self.conversation_model.state_of(turn.id) if turn else None
        flagged = not (state is not None and state.flagged)
        self._decide(
            lambda ids: ops.flag_turns(parent=self, turn_ids=ids, rater=self.rater, flagged=flagged),
            "Flagged" if flagged else "Unflagged",
        )

    def cmd_clear_decision(self) -> None:
        self._decide(lambda ids: ops.clear_turns(parent=self, turn_ids=ids, rater=self.rater), "Cleared")

    def cmd_edit_note(self) -> None:
        turn = self.current_turn()
        if turn is None or turn.role is not Role.THERAPIST or self.rater is None:
            self.message.emit("Choose a therapist turn first")
            return
        state = self.conversation_model.state_of(turn.id)
        dialog = NoteDialog(self.window(), (state.note if state is not None else None) or "")
        self.note_dialog = dialog

        def closed(result: int) -> None:
            self.note_dialog = None
            dialog.deleteLater()
            self.focus_conversation()
            if result == NoteDialog.DialogCode.Accepted:
                ops.set_note(parent=self, turn_id=turn.id, rater=self.rater, note=dialog.text()).success(
                    lambda _r: self.message.emit("Note saved")
                ).run_in_background(initiator=self)

        dialog.finished.connect(closed)
        dialog.open()

    def cmd_set_category(self) -> None:
        ids = self.transcripts.selected_ids()
        if not ids and self.current_transcript is not None:
            ids = [self.current_transcript.id]
        if not ids or self.rater is None:
            return
        names = [c.value for c in Category]
        current = names.index(str(self.current_transcript.category)) if self.current_transcript else 0
        name, ok = QInputDialog.getItem(
            self.window(), "Set category", f"Category for {len(ids)} transcript(s):", names, current, False
        )
        if ok:
            ops.set_category(
                parent=self, transcript_ids=ids, category=Category(name), rater=self.rater
            ).success(lambda _r: self.message.emit(f"Set {len(ids)} transcript(s) to {name}")).run_in_background(
                initiator=self
            )

    def cmd_focus_search(self) -> None:
        self.search.focus()

    def cmd_focus_transcripts(self) -> None:
        self.transcripts.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def cmd_focus_conversation(self) -> None:
        self.focus_conversation()

    def focus_conversation(self) -> None:
        # After a dialog closes, not every platform re-activates the window.
        self.window().activateWindow()
        self.conversation.setFocus(Qt.FocusReason.OtherFocusReason)

    # Settings #################################################################

    def _min_words_edited(self, value: int) -> None:
        ops.set_min_words(parent=self, min_words=value).success(
            lambda _r: self._min_words_saved(value)
        ).run_in_background(initiator=self)

    def _min_words_saved(self, value: int) -> None:
        self.min_words = value
        self.conversation_model.set_min_words(value)
        self.order = None
        self.reload_all()
        self.message.emit(f"Eligible turns now have at least {value} words")

    def _title_of(self, transcript_id: int) -> str:
        row = self.transcripts.model.row_of(TranscriptId(transcript_id))
        return self.transcripts.model.summary(row).title if row is not None else f"transcript {transcript_id}"
