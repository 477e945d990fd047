"""Settings that persist, rater switching, filters, and importing from the window."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from core import curation
from core.models import Category
from tests.desktop.test_curation_window import current, db, eligible_turns, key, wait_turn


def test_min_words_persists_and_changes_eligibility(qtbot, window, small_workspace):
    from desktop.app import create_main_window

    win = window
    alpha = small_workspace.transcript_ids[0]
    a1, a2 = eligible_turns(win, alpha)  # 60 and 70 words
    win.curation.min_words_box.setValue(65)
    qtbot.waitUntil(lambda: win.curation.order is not None and a1.id not in win.curation.order)
    assert a2.id in win.curation.order
    qtbot.waitUntil(lambda: win.curation.transcripts.model.summary(0).eligible == 1)
    win.resize(760, 520)  # inside the offscreen 800x600 screen
    win.close()  # the fixture shuts its task manager down at the end

    again = create_main_window(home=small_workspace.home)
    qtbot.addWidget(again)
    again.show()
    # The rater was remembered: no dialog, straight to work at the saved threshold.
    qtbot.waitUntil(lambda: again.curation.current_turn() is not None)
    assert again.rater_dialog is None
    assert again.curation.min_words_box.value() == 65
    assert again.curation.current_turn().id == a2.id
    assert (again.width(), again.height()) == (760, 520)  # the layout came back too
    again.close()
    again.taskman.shutdown()


def test_switch_rater_records_the_new_name(qtbot, window):
    win = window
    key(qtbot, win, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.rater_dialog is not None and win.rater_dialog.isVisible())
    assert win.rater_dialog.chosen() == "Dr Test"
    win.rater_dialog.name.setEditText("Second Rater")
    win.rater_dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: win.rater_label.text() == "Rater: Second Rater")
    assert db(win, curation.get_current_rater) == "Second Rater"
    win.curation.focus_conversation()
    qtbot.waitUntil(win.curation.conversation.hasFocus)
    turn = current(win)
    key(qtbot, win, Qt.Key.Key_I)
    qtbot.waitUntil(lambda: len(db(win, lambda s: curation.history(s, turn.id))) == 1)
    assert db(win, lambda s: curation.history(s, turn.id))[0].rater == "Second Rater"


def test_category_filter_limits_list_and_navigation(qtbot, window, small_workspace):
    win = window
    alpha, beta, gamma = small_workspace.transcript_ids
    combo = win.curation.transcripts.category
    combo.setCurrentIndex(combo.findText(Category.FATIGUE.value))
    qtbot.waitUntil(lambda: alpha not in win.curation.transcripts.model.ids())
    shown = win.curation.transcripts.model.summaries()
    assert beta in win.curation.transcripts.model.ids() and gamma not in win.curation.transcripts.model.ids()
    assert {str(s.category) for s in shown} == {"Fatigue"}
    # From Alpha's last eligible turn, J skips to the filtered list's transcript.
    a2 = eligible_turns(win, alpha)[1]
    win.curation.select_turn(a2.id, alpha)
    wait_turn(qtbot, win, a2.id)
    win.curation.focus_conversation()
    key(qtbot, win, Qt.Key.Key_J)
    wait_turn(qtbot, win, eligible_turns(win, beta)[0].id)
    key(qtbot, win, Qt.Key.Key_J)
    wait_turn(qtbot, win, eligible_turns(win, beta)[1].id)
    key(qtbot, win, Qt.Key.Key_J)  # Gamma (Anger) is filtered out
    allowed = set(win.curation.transcripts.model.ids())
    if allowed == {beta}:
        qtbot.waitUntil(lambda: "No more eligible turns" in win.statusBar().currentMessage())
    else:
        qtbot.waitUntil(lambda: current(win).transcript_id != beta)
        assert current(win).transcript_id in allowed


def test_set_category_of_selected_transcripts_is_undoable(qtbot, window, small_workspace, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    win = window
    alpha, beta, _gamma = small_workspace.transcript_ids
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("Sadness", True)))
    view = win.curation.transcripts.view
    view.selectRow(0)
    from PySide6.QtCore import QItemSelectionModel

    view.selectionModel().select(
        win.curation.transcripts.model.index(1, 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    view.setFocus()
    key(qtbot, win, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier, widget=view)
    qtbot.waitUntil(
        lambda: [str(win.curation.transcripts.model.summary(r).category) for r in range(2)] == ["Sadness", "Sadness"]
    )
    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=view)
    qtbot.waitUntil(
        lambda: [str(win.curation.transcripts.model.summary(r).category) for r in range(2)] == ["Anxiety", "Fatigue"]
    )


def test_dropped_files_import_in_background_and_summary_lists_failures(qtbot, window, tmp_path):
    win = window
    empty = tmp_path / "empty-session.txt"
    empty.write_text("")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(empty))])
    event = QDropEvent(QPointF(QPoint(50, 50)), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    # Offscreen has no drag manager to deliver a synthetic drop; call the handler.
    win.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "importSummary") is not None)
    box = win.findChild(QMessageBox, "importSummary")
    assert "1 failed" in box.text()
    assert f"{empty}: the file is empty" in box.informativeText()
