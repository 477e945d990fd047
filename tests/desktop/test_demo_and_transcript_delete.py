"""Issue 10 in the real window: the demo only in an empty workspace, deleting transcripts from the
list with a confirmation that names what goes with them, and the dataset page's visible defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from core.datasets import DatasetRules, build_dataset
from core.resources import demo_transcripts
from core.store import open_store
from core.store import datasets as ds_store
from core.store import transcripts as transcript_store
from tests.desktop.conftest import Workspace, drain
from tests.desktop.test_dataset_page import WAIT_MS, expected

from tests.desktop.test_dataset_page import home, page  # noqa: F401 - the Dataset page fixtures


def test_opening_a_workspace_with_transcripts_imports_nothing(qtbot, small_workspace: Workspace) -> None:
    from desktop.app import create_main_window

    win = create_main_window(home=small_workspace.home)
    qtbot.addWidget(win)
    win.close()
    win.taskman.shutdown()
    with open_store(small_workspace.home) as store:
        assert [t.id for t in transcript_store.list_transcripts(store)] == small_workspace.transcript_ids


def test_an_empty_workspace_gets_the_tagged_demos(qtbot, tmp_path: Path) -> None:
    if not demo_transcripts():
        pytest.skip("no demonstration transcripts in resources/demo")
    from desktop.app import create_main_window

    win = create_main_window(home=tmp_path / "ws")
    qtbot.addWidget(win)
    win.close()
    win.taskman.shutdown()
    with open_store(tmp_path / "ws") as store:
        listed = transcript_store.list_transcripts(store)
        assert listed and all(t.metadata.get("demo") is True for t in listed)


def _confirm_box() -> QMessageBox | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox) and w.objectName() == "deleteTranscriptsConfirm" and w.isVisible():
            return w
    return None


def test_deleting_a_transcript_from_the_list_says_what_goes_and_does_it(qtbot, window, small_workspace) -> None:
    victim, kept = small_workspace.transcript_ids[0], small_workspace.transcript_ids[1:]
    with open_store(small_workspace.home) as store:
        record = build_dataset(store, "used", DatasetRules(split=(34, 33, 33)))
        assert victim in {r.transcript_id for r in ds_store.examples_of(store, record.id)}
    tlist = window.curation.transcripts
    tlist.select(victim)
    qtbot.waitUntil(lambda: tlist.selected_ids() == [victim])
    # Cancel first: nothing changes
    tlist.delete_selected()
    qtbot.waitUntil(lambda: _confirm_box() is not None, timeout=WAIT_MS)
    box = _confirm_box()
    text = box.text()
    assert "Alpha session" in text and "decisions" in text and "used (" in text and "cannot be undone" in text
    box.button(QMessageBox.StandardButton.Cancel).click()
    drain(qtbot, window.taskman)  # anything Cancel might have started has run
    with open_store(small_workspace.home) as store:
        assert transcript_store.get_transcript(store, victim)
    # then Delete, from the list's context menu
    tlist.select(victim)
    qtbot.waitUntil(lambda: tlist.selected_ids() == [victim])
    tlist._row_menu(tlist.view.visualRect(tlist.model.index(tlist.model.row_of(victim), 0)).center())
    menu = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu) and w.isVisible())
    action = next(a for a in menu.actions() if a.objectName() == "deleteTranscripts")
    assert action.text() == "Delete transcript…"
    menu.close()
    action.trigger()
    qtbot.waitUntil(lambda: _confirm_box() is not None, timeout=WAIT_MS)
    delete = next(b for b in _confirm_box().buttons() if b.text() == "Delete")
    delete.click()
    qtbot.waitUntil(lambda: victim not in tlist.model.ids(), timeout=WAIT_MS)
    assert set(tlist.model.ids()) == set(kept)
    drain(qtbot, window.taskman)  # the open conversation was the deleted one: no error dialog may follow
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    with open_store(small_workspace.home) as store:
        assert [t.id for t in transcript_store.list_transcripts(store)] == kept
        assert ds_store.list_datasets(store) == []


def test_the_page_shows_the_default_off_rules_and_their_counts(qtbot, page, home: Path) -> None:
    assert page.min_rating.value() == 3.0 and not page.include_demo.isChecked()
    assert page.session_rules.text() == "mi_quality != low"
    assert page.rules() == DatasetRules(system_instruction=page.rules().system_instruction)
    with open_store(home) as store:
        low = [t.id for t in transcript_store.list_transcripts(store)][:6]
        store.conn.execute(
            f"UPDATE transcripts SET metadata = json_set(metadata, '$.mi_quality', 'low') "
            f"WHERE id IN ({','.join('?' * len(low))})", low)
    before = page.preview
    page.session_rules.setText("mi_quality != low; upvotes >= 0")
    qtbot.waitUntil(lambda: page.preview is not before and page.preview.rules.session_rules
                    == ("mi_quality != low", "upvotes >= 0"), timeout=WAIT_MS)
    # a session without upvotes fails "upvotes >= 0": every other session goes, counted per rule
    want = expected(home, page.rules())
    assert page.preview.removed == want.removed and want.removed["session rule: mi_quality != low"] > 0
    assert "session rule: mi_quality != low" in page.removed_label.text()
    page.session_rules.setText("mi_quality ~ low")
    assert "session rule" in page.rules_error.text() and not page.build_button.isEnabled()
    page.session_rules.setText("")
    qtbot.waitUntil(lambda: page.preview.rules.session_rules == (), timeout=WAIT_MS)
    assert page.preview.removed.get("session rule: mi_quality != low", 0) == 0

