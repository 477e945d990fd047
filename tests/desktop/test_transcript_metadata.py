"""Source metadata as list columns with a filter, one turn number in app and CLI, the CSV mapping dialog."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cli import EXIT_OK, main
from core.models import Category
from core.store import transcripts as transcript_store
from desktop.csv_mapping_dialog import CsvMappingDialog
from tests.conftest import ANNOMI_SIMPLE, needs_annomi
from tests.desktop.conftest import Workspace, build_workspace, session
from tests.desktop.test_curation_window import current, db, eligible_turns, key, wait_turn

TOPICS = ("sleep", "alcohol", "sleep", "alcohol", "sleep")


@pytest.fixture
def small_workspace(tmp_path: Path) -> Workspace:
    """Overrides conftest's: five sessions with AnnoMI-style metadata."""
    home = tmp_path / "ws"
    sessions = []
    for i, topic in enumerate(TOPICS):
        s = session(f"Session {i}", topic, category=Category.ANXIETY)
        s.metadata = {"topic": topic, "mi_quality": "low" if i == 2 else "high", "annomi_transcript_id": i}
        sessions.append(s)
    return Workspace(home, build_workspace(home, sessions))


def _list(win):
    return win.curation.transcripts


def test_metadata_columns_and_filter_limit_list_and_navigation(qtbot, window, small_workspace):
    win = window
    lst = _list(win)
    qtbot.waitUntil(lambda: lst.shown_metadata_keys() != [])
    # Keys that group sessions become columns; a key unique to each session does not.
    assert set(lst.shown_metadata_keys()) == {"topic", "mi_quality"}
    headers = [lst.model.headerData(c, Qt.Orientation.Horizontal) for c in range(lst.model.columnCount())]
    col = headers.index("topic")
    assert [lst.model.index(r, col).data() for r in range(5)] == list(TOPICS)
    assert lst.metadata.isVisibleTo(lst)

    ids = small_workspace.transcript_ids
    lst.metadata.setCurrentIndex(lst.metadata_filter_index("topic", "alcohol"))
    qtbot.waitUntil(lambda: lst.model.ids() == [ids[1], ids[3]])
    assert "(2)" in lst.metadata.currentText() and lst.is_filtered()
    # J moves only through the filtered transcripts.
    first, second = eligible_turns(win, ids[1])
    win.curation.select_turn(second.id, ids[1])
    wait_turn(qtbot, win, second.id)
    win.curation.focus_conversation()
    key(qtbot, win, Qt.Key.Key_J)
    wait_turn(qtbot, win, eligible_turns(win, ids[3])[0].id)

    # Chosen columns replace the automatic ones.
    lst.set_metadata_keys(["annomi_transcript_id"])
    assert lst.shown_metadata_keys() == ["annomi_transcript_id"]
    assert lst.metadata_filter() is None  # its filter value is gone with its column
    qtbot.waitUntil(lambda: len(lst.model.ids()) == 5)


def test_turn_number_is_the_same_in_the_panel_the_cards_and_attune_show(qtbot, window, small_workspace, capsys):
    win = window
    ids = small_workspace.transcript_ids
    turn = eligible_turns(win, ids[2])[1]  # ids run on across transcripts: id != number
    assert turn.id != turn.number
    win.curation.select_turn(turn.id, ids[2])
    wait_turn(qtbot, win, turn.id)
    assert win.curation.panel.title.text().startswith(f"Turn {turn.number} of ")
    capsys.readouterr()
    assert main(["--home", str(small_workspace.home), "show", str(ids[2]), "--json"]) == EXIT_OK
    rows = {r["id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[turn.id]["turn"] == turn.number == turn.position + 1
    assert current(win).number == turn.number


def _counsel_like(folder: Path) -> Path:
    path = folder / "qa-export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["", "questionID", "questionTitle", "questionText", "topic", "answerText", "upvotes"])
        w.writerow([0, 7, "Always tired", "I sleep ten hours and wake exhausted.", "sleep-improvement",
                    "That sounds draining. When did it start?", 2])
        w.writerow([1, 7, "Always tired", "I sleep ten hours and wake exhausted.", "sleep-improvement",
                    "Has a doctor checked your thyroid?", 0])
        w.writerow([2, 8, "Angry at work", "I snap at colleagues.", "anger-management",
                    "What happens just before you snap?", 1])
    return path


def test_dropping_an_unmapped_csv_asks_for_a_mapping_and_imports_it(qtbot, window, tmp_path):
    win = window
    path = _counsel_like(tmp_path)
    from desktop import import_actions

    import_actions.start_import(win, [path])
    qtbot.waitUntil(lambda: win.findChild(CsvMappingDialog, "csvMappingDialog") is not None)
    dialog = win.findChild(CsvMappingDialog, "csvMappingDialog")
    assert dialog.table.rowCount() == 3 and dialog.kind.currentData() == "question_answer"
    assert dialog.columns["client_text"].currentData() == "questionText"  # guessed from the names
    assert dialog.result.text().startswith("First transcript")
    dialog.set_metadata_columns(["topic", "upvotes"])
    assert "topic=sleep-improvement" in dialog.result.text()
    saved = tmp_path / "map.json"
    dialog.save_to(saved)
    assert json.loads(saved.read_text())["metadata"] == ["topic", "upvotes"]
    dialog.accept()

    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "importSummary") is not None)
    assert "Imported 3 transcript(s)" in win.findChild(QMessageBox, "importSummary").text()
    stored = db(win, transcript_store.list_transcripts)
    added = [t for t in stored if t.format == "csv"]
    assert [t.metadata["topic"] for t in added] == ["sleep-improvement", "sleep-improvement", "anger-management"]
    assert added[0].metadata["group_id"] == added[1].metadata["group_id"] == 7
    # The saved mapping reads the same file on the command line.
    assert main(["--home", str(tmp_path / "cli"), "import", "--csv-map", str(saved), str(path)]) == EXIT_OK
    qtbot.waitUntil(lambda: "upvotes" in _list(win).metadata_key_stats())


def test_cancelling_the_mapping_imports_the_other_files(qtbot, window, tmp_path):
    win = window
    path = _counsel_like(tmp_path)
    text = tmp_path / "plain.txt"
    text.write_text("THERAPIST: Hello there.\nCLIENT: Hi.\n")
    from desktop import import_actions

    import_actions.start_import(win, [path, text])
    qtbot.waitUntil(lambda: win.findChild(CsvMappingDialog, "csvMappingDialog") is not None)
    dialog = win.findChild(CsvMappingDialog, "csvMappingDialog")
    dialog.columns["therapist_text"].setCurrentIndex(0)  # (none): not readable like this
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    assert "therapist_text" in dialog.result.text()
    dialog.reject()
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "importSummary") is not None)
    box = win.findChild(QMessageBox, "importSummary")
    assert "Imported 1 transcript(s) from 1 file(s)" in box.text()


@needs_annomi
def test_annomi_quality_and_topic_are_list_columns_with_a_filter(qtbot, tmp_path):
    from core import curation
    from core.importing import import_paths
    from core.store import open_store
    from desktop.app import create_main_window

    home = tmp_path / "annomi-ws"
    with open_store(home) as store:
        assert import_paths(store, [ANNOMI_SIMPLE]).imported_transcripts == 133
        curation.set_current_rater(store, "Dr Test")  # no rater dialog
    win = create_main_window(home=home)
    qtbot.addWidget(win)
    win.show()
    try:
        lst = _list(win)
        qtbot.waitUntil(lambda: len(lst.model.summaries()) == 133 and lst.shown_metadata_keys() != [])
        assert set(lst.shown_metadata_keys()) == {"topic", "mi_quality"}
        lst.metadata.setCurrentIndex(lst.metadata_filter_index("mi_quality", "low"))
        qtbot.waitUntil(lambda: len(lst.model.summaries()) == lst.metadata_key_stats()["mi_quality"]["low"])
        col = [lst.model.headerData(c, Qt.Orientation.Horizontal) for c in range(lst.model.columnCount())].index(
            "mi_quality"
        )
        assert {lst.model.index(r, col).data() for r in range(lst.model.rowCount())} == {"low"}
    finally:
        win.close()
        win.taskman.shutdown()
