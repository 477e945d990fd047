"""Redacting selected text and excluding a client turn from the decision panel, in the real window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from core import curation
from core.curation import Status
from core.models import Role
from desktop.curation.decision_panel import python_offset, qt_position


def db(win, fn):
    return win.taskman.call_on_db_blocking(fn)


def spans(win, turn_id):
    return db(win, lambda s: [(x.start, x.end, x.rater) for x in curation.redacted_spans(s, [turn_id])])


def test_offsets_convert_between_qt_and_python() -> None:
    text = "a🙂b c"
    assert [python_offset(text, p) for p in range(6)] == [0, 1, 2, 2, 3, 4]
    assert [qt_position(text, i) for i in range(5)] == [0, 1, 3, 4, 5]


def test_select_text_redact_it_and_remove_it(qtbot, window) -> None:
    win = window
    panel = win.curation.panel
    turn = win.curation.current_turn()
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.turn.id == turn.id)
    assert panel.text.toPlainText() == turn.text
    assert not panel.redact_button.isEnabled()
    word = turn.text.split()[1]
    start = turn.text.index(word)
    cursor = panel.text.textCursor()
    cursor.setPosition(qt_position(turn.text, start))
    cursor.setPosition(qt_position(turn.text, start + len(word)), QTextCursor.MoveMode.KeepAnchor)
    panel.text.setTextCursor(cursor)  # what a mouse drag over the word does
    assert panel.redact_button.isEnabled()
    qtbot.mouseClick(panel.redact_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: spans(win, turn.id) == [(start, start + len(word), "Dr Test")])
    qtbot.waitUntil(lambda: panel.redactions.count() == 1)
    assert word in panel.redactions.item(0).text()
    panel.redactions.setCurrentRow(0)
    assert panel.unredact_button.isEnabled()
    qtbot.mouseClick(panel.unredact_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: spans(win, turn.id) == [])
    qtbot.waitUntil(lambda: panel.redactions.count() == 0)
    # both were logged steps: Ctrl+Z brings the redaction back
    qtbot.keyClick(win.curation.conversation, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(spans(win, turn.id)) == 1)


def test_a_client_turn_is_excluded_from_the_panel(qtbot, window) -> None:
    win = window
    panel = win.curation.panel
    model = win.curation.conversation_model
    row = next(i for i, t in enumerate(model.turns()) if t.role is Role.CLIENT)
    client = model.turns()[row]
    win.curation.conversation.setCurrentIndex(model.index(row))
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.turn.id == client.id)
    assert panel.exclude_client_button.isVisible() and panel.exclude_client_button.isEnabled()
    assert not panel.buttons["include"].isEnabled()
    qtbot.mouseClick(panel.exclude_client_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.reason_picker is not None and panel.reason_picker.isVisible())
    qtbot.keyClick(panel.reason_picker.reasons, Qt.Key.Key_Return)
    state = lambda: db(win, lambda s: curation.turn_state(s, client.id, rater="Dr Test"))  # noqa: E731
    qtbot.waitUntil(lambda: state().status is Status.EXCLUDED)
    qtbot.waitUntil(lambda: panel.status.text().startswith("Excluded: identifying information"))
    qtbot.mouseClick(panel.clear_client_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state().status is Status.UNREVIEWED)
