"""What a key press makes the GUI and database threads do besides its commit.

The key press to committed decision target (10 ms at p95 on a 1M-turn
workspace, ``tests/benchmarks/bench_gui.py``) was missed by work queued ahead
of the commit's result: a repaint of the whole window each time the decision
panel's labels or the conversation's heading changed size, a second read of
the turn J had just read, and full garbage collections walking every object
start-up had left.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

from core.changes import OpChanges
from desktop.operations import curation as ops
from tests.desktop.conftest import drain


class PaintCounter(QObject):
    def __init__(self, *widgets: QWidget) -> None:
        super().__init__()
        self.painted: list[str] = []
        for w in widgets:
            w.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.painted.append(obj.objectName() or type(obj).__name__)
        return False


def test_panel_height_changes_repaint_only_the_panel(qtbot, window):
    win = window
    page = win.curation
    detail = page.panel.detail
    assert detail is not None
    outside = PaintCounter(page.conversation, page.conversation.viewport(), page.transcripts.view,
                           page.transcripts.view.viewport(), page.heading)
    inside = PaintCounter(page.panel)
    qtbot.wait(200)  # the first screen's paints are over
    outside.painted.clear()
    # A title long enough to wrap onto more lines makes the panel's labels
    # taller, then shorter again: the panel is laid out and repainted ...
    for title in ["a transcript title long enough to wrap onto several lines of the decision panel " * 2, "short"]:
        page.panel.show_detail(detail, transcript_title=title)
        qtbot.wait(100)
    assert inside.painted, "the panel itself was not repainted: the test would prove nothing"
    # ... and nothing outside it: not the conversation's cards, not the list.
    assert outside.painted == []
    assert page.panel_area.widget() is page.panel
    assert page.panel_area.width() >= page.panel.minimumWidth()


def test_a_new_heading_repaints_only_the_heading(qtbot, window):
    page = window.curation
    outside = PaintCounter(page.conversation, page.conversation.viewport(), page.transcripts.view,
                           page.transcripts.view.viewport(), page.panel)
    inside = PaintCounter(page.heading)
    qtbot.wait(200)
    outside.painted.clear()
    for text in ["Another transcript  ·  Anxiety  ·  120 turns, 9 eligible", "x"]:  # as a transcript switch sets it
        page.heading.setText(text)
        qtbot.wait(100)
    assert inside.painted
    assert outside.painted == []
    assert page.heading.isVisible() and page.heading.height() >= page.heading.fontMetrics().height()


def test_decision_refresh_skips_a_detail_read_asked_for_after_the_commit(qtbot, window, monkeypatch):
    win = window
    page = win.curation
    drain(qtbot, win.taskman)
    asked: list[int] = []
    real = ops.load_turn_detail

    def counting(*, parent, turn_id, rater):
        asked.append(turn_id)
        return real(parent=parent, turn_id=turn_id, rater=rater)

    monkeypatch.setattr(ops, "load_turn_detail", counting)
    turn = page.current_turn()
    # A decision's broadcast, then J's read of the next turn's detail ...
    page.op_executed(OpChanges(decisions=True), page)
    page.refresh_detail()
    # ... then the broadcast's refresh: that read already sees the commit.
    page._refresh_decided()
    assert asked == [turn.id]
    # A later commit makes the shown detail stale again: it is read once more.
    page.op_executed(OpChanges(decisions=True), page)
    page._refresh_decided()
    assert asked == [turn.id, turn.id]
    drain(qtbot, win.taskman)
    assert page.panel.detail is not None and page.panel.detail.turn.id == turn.id


def test_start_up_objects_are_frozen_once_the_first_screen_is_shown(window):
    import gc

    # Frozen by the first window of the process (the one above, run alone);
    # a full collection then no longer walks what start-up left behind.
    assert gc.get_freeze_count() > 0
