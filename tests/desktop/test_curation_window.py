"""The real main window, driven from the keyboard as a curator would use it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core import curation
from core.curation import ExcludeReason, Status
from core.models import Role


def key(qtbot, win, k, modifier=Qt.KeyboardModifier.NoModifier, widget=None):
    target = widget or QApplication.focusWidget() or win.curation.conversation
    qtbot.keyClick(target, k, modifier)


def db(win, fn):
    """Read the store on the database thread, as the GUI does (tests only read)."""
    return win.taskman.call_on_db_blocking(fn)


def state(win, turn_id):
    return db(win, lambda s: curation.turn_state(s, turn_id, rater="Dr Test"))


def current(win):
    return win.curation.current_turn()


def wait_turn(qtbot, win, turn_id):
    qtbot.waitUntil(lambda: current(win) is not None and current(win).id == turn_id)
    qtbot.waitUntil(lambda: win.curation.panel.detail is not None and win.curation.panel.detail.turn.id == turn_id)


def wait_picker(qtbot, win):
    qtbot.waitUntil(lambda: win.curation.reason_picker is not None and win.curation.reason_picker.reasons.hasFocus())


def eligible_turns(win, transcript_id):
    turns = db(win, lambda s: __import__("core.store.transcripts", fromlist=["x"]).turns_of(s, transcript_id))
    return [t for t in turns if t.role is Role.THERAPIST and t.word_count >= 50]


def test_opens_workspace_on_first_eligible_turn(window, small_workspace):
    win = window
    ids = small_workspace.transcript_ids
    qtbot_rows = win.curation.transcripts.model.rowCount()
    assert qtbot_rows >= 3
    titles = [win.curation.transcripts.model.summary(r).title for r in range(qtbot_rows)]
    assert titles[:3] == ["Alpha session", "Beta session", "Gamma session"]
    first = eligible_turns(win, ids[0])[0]
    assert current(win).id == first.id
    assert win.curation.panel.words.text() == str(first.word_count)
    assert win.rater_label.text() == "Rater: Dr Test"
    assert db(win, curation.get_current_rater) == "Dr Test"


def test_j_and_k_cross_transcript_boundaries(qtbot, window, small_workspace):
    win = window
    alpha, beta = small_workspace.transcript_ids[:2]
    a1, a2 = eligible_turns(win, alpha)
    b1 = eligible_turns(win, beta)[0]
    key(qtbot, win, Qt.Key.Key_J)
    wait_turn(qtbot, win, a2.id)
    key(qtbot, win, Qt.Key.Key_J)
    wait_turn(qtbot, win, b1.id)
    assert win.curation.current_transcript.id == beta
    assert win.curation.transcripts.selected_ids() == [beta]
    key(qtbot, win, Qt.Key.Key_Up)
    wait_turn(qtbot, win, a2.id)
    key(qtbot, win, Qt.Key.Key_Down)
    wait_turn(qtbot, win, b1.id)
    key(qtbot, win, Qt.Key.Key_K)
    key(qtbot, win, Qt.Key.Key_K)
    wait_turn(qtbot, win, a1.id)


def test_rate_exclude_with_reason_picker_then_undo_redo(qtbot, window):
    win = window
    turn = current(win)
    key(qtbot, win, Qt.Key.Key_4)
    qtbot.waitUntil(lambda: win.curation.panel.rating.text() == "★★★★☆")
    assert state(win, turn.id).rating == 4

    key(qtbot, win, Qt.Key.Key_X)
    wait_picker(qtbot, win)
    picker = win.curation.reason_picker
    assert [picker.reasons.item(i).text() for i in range(picker.reasons.count())] == [
        f"{n}   {r.value}" for n, r in enumerate(ExcludeReason, start=1)
    ]
    qtbot.keyClick(picker.reasons, Qt.Key.Key_Down)
    qtbot.keyClick(picker.reasons, Qt.Key.Key_Down)
    qtbot.keyClick(picker.reasons, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: state(win, turn.id).status is Status.EXCLUDED)
    assert state(win, turn.id).reason is list(ExcludeReason)[2]
    qtbot.waitUntil(lambda: win.curation.panel.status.text().startswith("Excluded: " + list(ExcludeReason)[2].value))
    assert win.curation.reason_picker is None
    qtbot.waitUntil(win.curation.conversation.hasFocus)

    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: state(win, turn.id).status is Status.UNREVIEWED)
    qtbot.waitUntil(lambda: win.curation.panel.status.text() == "Unreviewed")
    assert state(win, turn.id).rating == 4  # only the exclusion was undone
    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: state(win, turn.id).status is Status.EXCLUDED)
    qtbot.waitUntil(lambda: win.curation.panel.status.text().startswith("Excluded"))


def test_escape_cancels_the_reason_picker(qtbot, window):
    win = window
    turn = current(win)
    key(qtbot, win, Qt.Key.Key_X)
    wait_picker(qtbot, win)
    qtbot.keyClick(win.curation.reason_picker.reasons, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: win.curation.reason_picker is None)
    qtbot.waitUntil(win.curation.conversation.hasFocus)
    key(qtbot, win, Qt.Key.Key_I)  # a later decision proves the queue moved on
    qtbot.waitUntil(lambda: state(win, turn.id).status is Status.INCLUDED)
    assert [r.action for r in db(win, lambda s: curation.history(s, turn.id))] == ["include"]


def test_include_flag_and_history_shown(qtbot, window):
    win = window
    turn = current(win)
    key(qtbot, win, Qt.Key.Key_I)
    key(qtbot, win, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: win.curation.panel.history.count() == 2)
    assert state(win, turn.id).flagged
    assert win.curation.panel.flag.text().startswith("⚑")
    assert "flag" in win.curation.panel.history.item(0).text()
    assert "include" in win.curation.panel.history.item(1).text()


def test_bulk_exclude_of_transcripts_is_one_undo_step(qtbot, window, small_workspace):
    win = window
    ids = small_workspace.transcript_ids
    targets = [t.id for tid in ids for t in eligible_turns(win, tid)]
    assert len(targets) == 6
    view = win.curation.transcripts.view
    view.setFocus()
    view.selectAll()
    qtbot.waitUntil(lambda: len(win.curation.transcripts.selected_ids()) >= 3)
    key(qtbot, win, Qt.Key.Key_X, widget=view)
    wait_picker(qtbot, win)
    qtbot.keyClick(win.curation.reason_picker.reasons, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: all(state(win, t).status is Status.EXCLUDED for t in targets))
    assert {state(win, t).reason for t in targets} == {ExcludeReason.IDENTIFYING}
    qtbot.waitUntil(lambda: win.curation.transcripts.model.summary(0).decided == 2)

    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=view)
    qtbot.waitUntil(lambda: all(state(win, t).status is Status.UNREVIEWED for t in targets))
    qtbot.waitUntil(lambda: win.curation.transcripts.model.summary(0).decided == 0)


def test_bulk_include_of_selected_turns(qtbot, window, small_workspace):
    win = window
    a1, a2 = eligible_turns(win, small_workspace.transcript_ids[0])
    view = win.curation.conversation
    model = win.curation.conversation_model
    sel = view.selectionModel()
    from PySide6.QtCore import QItemSelectionModel

    sel.select(model.index(model.row_of(a2.id)), QItemSelectionModel.SelectionFlag.Select)
    key(qtbot, win, Qt.Key.Key_I, widget=view)
    qtbot.waitUntil(lambda: state(win, a1.id).status is Status.INCLUDED and state(win, a2.id).status is Status.INCLUDED)
    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=view)
    qtbot.waitUntil(lambda: state(win, a1.id).status is Status.UNREVIEWED and state(win, a2.id).status is Status.UNREVIEWED)


def test_search_and_jump(qtbot, window, small_workspace):
    win = window
    beta = small_workspace.transcript_ids[1]
    key(qtbot, win, Qt.Key.Key_Slash)
    qtbot.waitUntil(lambda: win.curation.search.edit.hasFocus())
    qtbot.keyClicks(win.curation.search.edit, "sleep zebrafish")
    qtbot.keyClick(win.curation.search.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.curation.current_transcript.id == beta and current(win).position == 4)
    assert "zebrafish" in current(win).text
    assert win.curation.search.results.count() == 1
    # Esc hands the keyboard back to the conversation, where J works again.
    qtbot.keyClick(win.curation.search.edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: win.curation.conversation.hasFocus())
    key(qtbot, win, Qt.Key.Key_J)
    last = eligible_turns(win, beta)[1]
    wait_turn(qtbot, win, last.id)


def test_help_panel_lists_every_shortcut(qtbot, window):
    from PySide6.QtGui import QKeySequence

    from desktop.curation.help_panel import native
    from desktop.curation.shortcuts import SHORTCUTS

    win = window
    key(qtbot, win, Qt.Key.Key_Question)
    qtbot.waitUntil(lambda: win.help_panel is not None and win.help_panel.isVisible())
    text = win.help_panel.browser.toPlainText()
    for s in SHORTCUTS:
        assert s.description in text
        for k in s.keys:
            assert native(k) in text
    # Every shortcut in the table is a live action with exactly those keys.
    for s in SHORTCUTS:
        action = win.actions_by_command[s.command]
        assert [k.toString() for k in action.shortcuts()] == [QKeySequence(k).toString() for k in s.keys]


def test_failing_operation_shows_an_error_dialog(qtbot, window):
    from PySide6.QtWidgets import QMessageBox

    win = window
    key(qtbot, win, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: win.curation.note_dialog is not None and win.curation.note_dialog.editor.hasFocus())
    dialog = win.curation.note_dialog
    dialog.editor.setPlainText("x" * (curation.MAX_NOTE_CHARS + 1))
    qtbot.keyClick(dialog.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "errorDialog") is not None)
    box = win.findChild(QMessageBox, "errorDialog")
    assert box.isVisible()
    assert "note" in box.text() and "10000" in box.text()
    assert state(win, current(win).id).note is None


def test_note_saved_from_keyboard(qtbot, window):
    win = window
    key(qtbot, win, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: win.curation.note_dialog is not None and win.curation.note_dialog.editor.hasFocus())
    qtbot.keyClicks(win.curation.note_dialog.editor, "check tone")
    qtbot.keyClick(win.curation.note_dialog.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.curation.panel.note.text() == "check tone")
    assert state(win, current(win).id).note == "check tone"
