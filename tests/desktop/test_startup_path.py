"""What stands between starting the app and its first painted frame (issue 12).

The first screen is read in one trip to the database thread, pages other
than Curate (and their domain modules) load when first shown, the list's
source metadata is read after the first screen, and a decision's read-back
waits until its broadcast is over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import curation
from core.changes import OpChanges
from core.store import open_store
from tests.desktop.conftest import Workspace, drain
from tests.desktop.test_curation_window import eligible_turns

RATER = "Dr Test"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rated_workspace(small_workspace: Workspace) -> Workspace:
    """A second start: the rater was chosen before."""
    with open_store(small_workspace.home) as store:
        curation.set_current_rater(store, RATER)
    return small_workspace


def _counting(monkeypatch, module, name: str, calls: list[str]) -> None:
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)


def _open(qtbot, home: Path):
    from desktop.app import create_main_window

    win = create_main_window(home=home)
    qtbot.addWidget(win)
    win.show()
    page = win.curation
    qtbot.waitUntil(lambda: page.current_turn() is not None and page.panel.detail is not None
                    and page.order is not None and page.transcripts.model.rowCount() > 0, timeout=10_000)
    return win


def test_second_start_reads_the_first_screen_in_one_trip(qtbot, monkeypatch, rated_workspace):
    from desktop.operations import curation as ops

    calls: list[str] = []
    for name in ("load_settings", "load_eligible", "load_conversation", "load_turn_detail"):
        _counting(monkeypatch, ops, name, calls)
    win = _open(qtbot, rated_workspace.home)
    try:
        assert win.rater_dialog is None
        first = eligible_turns(win, rated_workspace.transcript_ids[0])[0]
        page = win.curation
        assert page.current_turn().id == first.id
        assert page.panel.detail.turn.id == first.id
        assert page.panel.words.text() == str(first.word_count)
        assert page.heading.text().startswith("Alpha session")
        # Settings, eligible turns, the conversation and the turn's detail came in one read.
        assert calls == []
        # From there on, moving reads as before.
        page.cmd_next_turn()
        second = eligible_turns(win, rated_workspace.transcript_ids[0])[1]
        qtbot.waitUntil(lambda: page.panel.detail is not None and page.panel.detail.turn.id == second.id)
        assert "load_turn_detail" in calls
    finally:
        win.close()
        win.taskman.shutdown()


def test_source_metadata_is_read_after_the_first_screen(qtbot, monkeypatch, rated_workspace):
    from desktop.operations import importing

    with open_store(rated_workspace.home) as store, store.transaction():
        store.conn.execute("UPDATE transcripts SET metadata = '{\"topic\": \"sleep\"}'")
    seen: list[object] = []
    real = importing.load_metadata
    pages: list = []

    def recorded(*, parent):
        # What the page showed when the metadata read was queued.
        seen.append(pages[0].panel.detail if pages else "no window yet")
        return real(parent=parent)

    monkeypatch.setattr(importing, "load_metadata", recorded)
    from desktop.app import create_main_window

    win = create_main_window(home=rated_workspace.home)
    pages.append(win.curation)
    qtbot.addWidget(win)
    win.show()
    try:
        lst = win.curation.transcripts
        qtbot.waitUntil(lambda: lst.shown_metadata_keys() == ["topic"], timeout=10_000)
        assert len(seen) == 1 and seen[0] is not None and seen[0] != "no window yet"
    finally:
        win.close()
        win.taskman.shutdown()


def test_pages_are_built_when_first_shown(qtbot, rated_workspace):
    win = _open(qtbot, rated_workspace.home)
    try:
        assert set(win.pages) == {"Curate", "Dataset", "Evaluate", "Rate A/B", "Tune"}
        assert set(win._built) == {"Curate"}
        # A broadcast reaches the pages that exist; one not built yet reads fresh when built.
        win.op_executed(OpChanges(datasets=True), None)
        win.tabs.setCurrentWidget(win._containers["Evaluate"])  # as a click on the tab does
        assert "Evaluate" in win._built
        evaluate = win.pages["Evaluate"]
        assert win._containers["Evaluate"].widget() is evaluate  # inside its scroll area
        dataset = win.pages["Dataset"]  # asking for a page builds it too
        assert set(win._built) == {"Curate", "Evaluate", "Dataset"}
        assert win.pages["Dataset"] is dataset  # once
        win.show_page("Rate A/B")
        assert win.tabs.currentWidget() is win._containers["Rate A/B"]
        assert win.pages["Rate A/B"].isVisible()
    finally:
        win.close()
        win.taskman.shutdown()


def test_a_burst_of_decisions_reads_the_screen_back_once(qtbot, monkeypatch, rated_workspace):
    from desktop.operations import curation as ops

    win = _open(qtbot, rated_workspace.home)
    try:
        drain(qtbot, win.taskman)
        calls: list[str] = []
        for name in ("load_states", "load_turn_detail", "load_undo_status"):
            _counting(monkeypatch, ops, name, calls)
        for _ in range(3):  # e.g. undo pressed three times, broadcast back to back
            win.op_executed(OpChanges(decisions=True), None)
        assert calls == []  # nothing is read while the broadcast is still running
        drain(qtbot, win.taskman)
        assert sorted(calls) == ["load_states", "load_turn_detail", "load_undo_status"]
        # (A step from elsewhere also recounts the list, a moment later: let it run before closing.)
        qtbot.waitUntil(lambda: not win.curation._summary_timer.isActive())
        drain(qtbot, win.taskman)
    finally:
        win.close()
        win.taskman.shutdown()


def test_only_the_changed_card_is_repainted():
    from desktop.curation.conversation_view import ConversationModel

    win_turns = _turns(4)
    model = ConversationModel()
    before = {t.id: _state(t.id, curation.Status.UNREVIEWED) for t in win_turns}
    model.set_turns(win_turns, before)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles: changed.append((a.row(), b.row())))
    after = dict(before)
    after[win_turns[2].id] = _state(win_turns[2].id, curation.Status.INCLUDED)
    model.set_states(after)
    assert changed == [(2, 2)]
    changed.clear()
    model.set_states(after)  # read back again, nothing new
    assert changed == []
    after = {t.id: _state(t.id, curation.Status.EXCLUDED) for t in win_turns}
    model.set_states(after)
    assert changed == [(0, 3)]  # adjacent rows: one signal
    assert model.state_of(win_turns[1].id).status is curation.Status.EXCLUDED


def _turns(n: int):
    from core.ids import TranscriptId, TurnId
    from core.models import Role, Turn

    return [Turn(id=TurnId(10 + i), transcript_id=TranscriptId(1), position=i, role=Role.THERAPIST,
                 speaker="T", text=f"turn {i}", raw_text=f"turn {i}", word_count=2) for i in range(n)]


def _state(turn_id, status):
    from core.curation import TurnState
    from core.ids import TranscriptId

    return TurnState(turn_id=turn_id, transcript_id=TranscriptId(1), position=0, role="therapist", word_count=2,
                     question_marks=0, rater=RATER, status=status, rating=None, reason=None, note=None,
                     flagged=False, effective_status=status, effective_rating=None, effective_flagged=False,
                     rater_count=1)


LAZY_PROBE = textwrap.dedent("""
    import json, sys
    from PySide6.QtWidgets import QApplication
    from desktop.app import create_main_window
    app = QApplication(sys.argv[:1])
    win = create_main_window(home=sys.argv[1])
    win.show()
    app.processEvents()
    loaded = sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:])))
    win.close()
    win.taskman.shutdown()
    print(json.dumps(loaded))
""")


def test_the_window_opens_without_the_other_pages_modules(rated_workspace):
    """A fresh process: what the first screen imports (another test may have loaded more here)."""
    heavy = ["desktop.evaluation", "desktop.dataset_page", "desktop.preference", "desktop.tuning.tune_page",
             "desktop.import_actions", "core.importing", "core.importers", "core.evaluation", "numpy",
             "vaderSentiment"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", LAZY_PROBE, str(rated_workspace.home), *heavy],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_app_checks_the_workspace_after_reading_its_first_screen(qtbot, monkeypatch, rated_workspace):
    import desktop.taskman as taskman_module
    from core.store import verify_integrity

    read: list[str] = []
    real_summaries = curation.transcript_summaries

    def summaries(*args, **kwargs):
        read.append("summaries")
        return real_summaries(*args, **kwargs)

    def check(path: Path) -> None:
        read.append("check")
        verify_integrity(path)

    monkeypatch.setattr(curation, "transcript_summaries", summaries)
    monkeypatch.setattr(taskman_module, "verify_integrity", check)
    win = _open(qtbot, rated_workspace.home)
    try:
        verdict = win.taskman.integrity_verdict()
        qtbot.waitUntil(verdict.done, timeout=10_000)
        assert verdict.exception() is None
        assert read[:2] == ["summaries", "check"]  # the list's counts were read first, then the check ran
    finally:
        win.close()
        win.taskman.shutdown()


def test_a_write_starts_the_check_when_nobody_asked(qapp, monkeypatch, tmp_path: Path):
    import desktop.taskman as taskman_module
    from desktop.taskman import TaskManager

    checked: list[Path] = []
    monkeypatch.setattr(taskman_module, "verify_integrity", checked.append)
    open_store(tmp_path / "ws").close()
    tm = TaskManager(tmp_path / "ws", check_when_asked=True)
    try:
        assert tm.run_on_db(lambda store: "read").result(timeout=10) == "read"
        assert checked == []  # reads never start it
        assert tm.run_on_db(lambda store: "written", writes=True).result(timeout=10) == "written"
        assert len(checked) == 1
        assert tm.integrity_verdict().result(timeout=10) is None
    finally:
        tm.shutdown()


def test_work_asked_for_after_shutdown_is_refused_quietly(qapp, tmp_path: Path):
    """A callback of work still running when the window closed may ask for more: nothing runs."""
    from desktop.taskman import TaskManager

    open_store(tmp_path / "ws").close()
    tm = TaskManager(tmp_path / "ws")
    tm.shutdown()
    called: list[object] = []
    for fut in (tm.run_on_db(lambda store: called.append("db"), lambda f: called.append("done")),
                tm.run_without_store(lambda: called.append("work"), lambda f: called.append("done"))):
        assert fut.cancelled()
    qapp.processEvents()
    assert called == []
