"""The A/B rating screen: keyboard only, committed at once, resumable, nothing that names a system."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QLineEdit, QPlainTextEdit, QWidget

from core.evaluation.responses import NewReply, save_replies
from core.evaluation.systems import list_systems
from core.preference import packages, sessions
from core.preference.sessions import SessionSpec
from core.store import open_store
from core.store import preference as pref_store
from tests.core.preference_fixtures import DATASET, build_ab_workspace, example_id

MODEL_ID = "acme-chat-7b-instruct"
SYSTEMS = ("base", "tuned", "gen-model", "therapist")


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, int]:
    ws = tmp_path / "ws"
    with open_store(ws) as store:
        build_ab_workspace(store, tmp_path / "replies", n_items=4)
        save_replies(store, "gen-model", [NewReply(example_id(n), f"Go on, tell me more ({n}).",
                                                   provenance={"request": {"model": MODEL_ID}})
                                          for n in range(4)],
                     kind="tuned_model", provenance={"model": MODEL_ID})
        sid = sessions.create_session(store, SessionSpec(DATASET, SYSTEMS, ("ann", "bob"), seed=2)).value.session_id
    return ws, sid


@pytest.fixture
def page(qtbot, home):
    from desktop.operations import OpBus, install
    from desktop.preference.rating_page import RatingPage
    from desktop.taskman import TaskManager

    ws, _sid = home
    taskman = TaskManager(ws)
    install(taskman, OpBus())
    widget = RatingPage()
    qtbot.addWidget(widget)
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(lambda: widget.session_box.count() == 1 and widget.rater_box.count() == 2)
    yield widget
    widget.close()
    taskman.shutdown()


def _start(qtbot, page, rater: str) -> None:
    page.rater_box.setCurrentText(rater)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.rater == rater and bool(page.items))
    page.setFocus()
    qtbot.waitUntil(page.hasFocus)


def _press(qtbot, page, key) -> None:
    before = page.progress.text()
    qtbot.keyClick(page, key)
    qtbot.waitUntil(lambda: not page.busy and page.progress.text() != before)


def _screen_text(page: QWidget) -> str:
    parts = [page.windowTitle(), page.toolTip()]
    for w in page.findChildren(QWidget):
        parts += [w.toolTip(), w.accessibleName(), w.whatsThis(), w.statusTip()]
        if isinstance(w, QLabel | QAbstractButton):
            parts.append(w.text())
        elif isinstance(w, QPlainTextEdit):
            parts.append(w.toPlainText())
        elif isinstance(w, QLineEdit):
            parts += [w.text(), w.placeholderText()]
        elif isinstance(w, QComboBox):
            parts += [w.itemText(i) for i in range(w.count())]
            parts += [str(w.itemData(i)) for i in range(w.count())]
    return "\n".join(parts)


def _identities(ws: Path) -> set[str]:
    with open_store(ws) as store:
        out = {MODEL_ID}
        for s in list_systems(store):
            out |= {s.name, s.kind} | {v for v in s.provenance.values() if isinstance(v, str)}
    return out


def _check_blind(page, ws: Path) -> None:
    text = _screen_text(page)
    # "Therapist:" labels who spoke in the session's context; it names no side.
    text = text.replace("Therapist: ", "").lower()
    for needle in _identities(ws):
        assert needle.lower() not in text, f"the rating screen shows {needle!r}"


def test_rate_a_session_with_the_keyboard_alone(qtbot, page, home) -> None:
    ws, sid = home
    _start(qtbot, page, "ann")
    total = len(page.items)
    assert total == 4 * 6 and page.progress.text() == f"0 / {total}"
    _check_blind(page, ws)
    first = page.current_item()
    assert page.response_a.toPlainText() == first.response_a
    assert page.response_a.font() == page.response_b.font()

    keys = [Qt.Key.Key_A, Qt.Key.Key_B, Qt.Key.Key_T, Qt.Key.Key_Z, Qt.Key.Key_S]
    for n in range(total):
        _press(qtbot, page, keys[n % 5])
        if n < total - 1:
            _check_blind(page, ws)
    assert page.progress.text() == f"{total} / {total}"
    with open_store(ws) as store:
        votes = pref_store.current_votes(store, sid)
        assert len(votes) == total  # every vote committed as it was cast
        by_key = {a.item_key: a.id for a in pref_store.assignments(store, sid, "ann")}
        assert votes[by_key[first.key]].choice == "a"

    # Backspace withdraws the latest vote; the pair comes back to be rated again.
    last_key = page.items[-1].key
    _press(qtbot, page, Qt.Key.Key_Backspace)
    assert page.current_item().key == last_key and page.progress.text() == f"{total - 1} / {total}"
    with open_store(ws) as store:
        assert len(pref_store.current_votes(store, sid)) == total - 1


def test_comment_and_resume(qtbot, page, home) -> None:
    ws, sid = home
    _start(qtbot, page, "bob")
    page.comment.setFocus()
    qtbot.keyClicks(page.comment, "a bit long")  # letters typed here are not votes
    assert page.progress.text() == "0 / 24"
    qtbot.keyClick(page.comment, Qt.Key.Key_Return)
    qtbot.waitUntil(page.hasFocus)
    _press(qtbot, page, Qt.Key.Key_B)
    _press(qtbot, page, Qt.Key.Key_A)
    with open_store(ws) as store:
        votes = sorted(pref_store.current_votes(store, sid).values(), key=lambda v: v.at)
        assert [v.comment for v in votes] == ["a bit long", ""]
    # A fresh screen resumes at the first unrated pair.
    second = page.items[2].key
    page.rater = None
    _start(qtbot, page, "bob")
    assert page.progress.text() == "2 / 24" and page.current_item().key == second


def test_open_a_rating_package_and_rate_it(qtbot, page, home, tmp_path: Path) -> None:
    ws, sid = home
    path = tmp_path / "bob.json"
    with open_store(ws) as store:
        packages.write_package(store, sid, "bob", path)
    page.open_package(path)
    qtbot.waitUntil(lambda: page.package is not None)
    page.setFocus()
    qtbot.waitUntil(page.hasFocus)
    _check_blind(page, ws)
    _press(qtbot, page, Qt.Key.Key_A)
    _press(qtbot, page, Qt.Key.Key_T)
    _press(qtbot, page, Qt.Key.Key_Backspace)
    _press(qtbot, page, Qt.Key.Key_Z)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [v["choice"] for v in data["votes"]] == ["a", "z"]
    with open_store(ws) as store:
        assert packages.merge_package(store, path, sid).value.merged == 2


def test_the_page_is_in_the_main_window(qtbot, home) -> None:
    from PySide6.QtWidgets import QApplication

    from desktop.app import create_main_window

    ws, sid = home
    win = create_main_window(home=ws)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.rater_dialog is not None and win.rater_dialog.isVisible())
    win.rater_dialog.name.setEditText("bob")
    win.rater_dialog.buttons.accepted.emit()
    try:
        page = win.pages["Rate A/B"]
        assert win.findChild(type(win.import_folder_action), "openRatingPackageAction") is not None
        win.show_page("Rate A/B")
        qtbot.waitUntil(lambda: page.session_box.count() == 1 and page.rater_box.currentText() == "bob")
        win.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
        _start(qtbot, page, "bob")
        _press(qtbot, page, Qt.Key.Key_A)
        _press(qtbot, page, Qt.Key.Key_S)
        _check_blind(page, ws)
        with open_store(ws) as store:
            assert sorted(v.choice for v in pref_store.current_votes(store, sid).values()) == ["a", "s"]
    finally:
        win.close()
        win.taskman.shutdown()


def test_an_empty_workspace_says_how_to_set_up_a_session(qtbot, tmp_path: Path) -> None:
    from desktop.operations import OpBus, install
    from desktop.preference.rating_page import RatingPage
    from desktop.taskman import TaskManager

    ws = tmp_path / "empty"
    open_store(ws).close()
    taskman = TaskManager(ws)
    install(taskman, OpBus())
    widget = RatingPage()
    qtbot.addWidget(widget)
    widget.show()
    try:
        qtbot.waitUntil(lambda: "attune ab new" in widget.status.text())
        assert not widget.start_button.isEnabled()
    finally:
        widget.close()
        taskman.shutdown()
