"""Fixtures that drive the real main window on a small, known workspace."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


from core.ids import TranscriptId
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import open_store
from core.store import transcripts as transcript_store


def long_reply(topic: str, n: int = 60) -> str:
    words = f"I hear how much {topic} weighs on you and I wonder what it would be like".split()
    return " ".join(words[i % len(words)] for i in range(n)) + "?"


def session(title: str, topic: str, *, category: Category = Category.ANXIETY) -> ParsedTranscript:
    """Client, long therapist turn, client, short therapist turn, client, long therapist turn."""
    turns = [
        ParsedTurn(Role.CLIENT, "Client", f"I keep thinking about {topic}.", f"I keep thinking about {topic}."),
        ParsedTurn(Role.THERAPIST, "Therapist", long_reply(topic), long_reply(topic)),
        ParsedTurn(Role.CLIENT, "Client", "Yes, every single day.", "Yes, every single day."),
        ParsedTurn(Role.THERAPIST, "Therapist", "Mm-hmm.", "Mm-hmm."),
        ParsedTurn(Role.CLIENT, "Client", f"Mostly the {topic} zebrafish thing.", f"Mostly the {topic} zebrafish thing."),
        ParsedTurn(Role.THERAPIST, "Therapist", long_reply(topic + " again", 70), long_reply(topic + " again", 70)),
    ]
    return ParsedTranscript(title=title, format="test", turns=turns, category=category)


def drain(qtbot, taskman, rounds: int = 3, timeout: int = 15_000) -> None:
    """Wait (on a condition, not a clock) until every database job queued so far has run
    and its callback on the GUI thread too; a callback may queue more, hence a few rounds.

    The database thread runs jobs in order and each finished job queues its
    callback before the next job starts, so a no-op's callback runs last.
    """
    for _ in range(rounds):
        done: list[bool] = []
        taskman.run_on_db(lambda _store: None, lambda _f: done.append(True))
        qtbot.waitUntil(lambda: bool(done), timeout=timeout)


@dataclass
class Workspace:
    home: Path
    transcript_ids: list[TranscriptId]


def build_workspace(home: Path, sessions: list[ParsedTranscript]) -> list[TranscriptId]:
    ids = []
    with open_store(home) as store, store.transaction():
        for i, s in enumerate(sessions):
            ids.append(
                transcript_store.insert_transcript(store, s, source_path=f"test-{i}.txt", content_hash=f"hash-{i}-{s.title}")
            )
    return ids


@pytest.fixture
def small_workspace(tmp_path: Path) -> Workspace:
    home = tmp_path / "ws"
    ids = build_workspace(
        home,
        [
            session("Alpha session", "work", category=Category.ANXIETY),
            session("Beta session", "sleep", category=Category.FATIGUE),
            session("Gamma session", "money", category=Category.ANGER),
        ],
    )
    return Workspace(home, ids)


@pytest.fixture
def window(qtbot, small_workspace: Workspace) -> Iterator:
    from desktop.app import create_main_window
    from PySide6.QtWidgets import QApplication

    from desktop.raters import RaterDialog

    win = create_main_window(home=small_workspace.home)
    qtbot.addWidget(win)
    win.show()
    # First start: the window asks who is rating.
    qtbot.waitUntil(lambda: win.rater_dialog is not None and win.rater_dialog.isVisible())
    dialog: RaterDialog = win.rater_dialog
    # Pre-filled with the operating-system user name.
    assert dialog.chosen() == getpass.getuser()
    dialog.name.setEditText("Dr Test")
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: win.curation.current_turn() is not None and win.curation.order is not None)
    qtbot.waitUntil(lambda: win.curation.panel.detail is not None)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    qtbot.waitUntil(win.curation.conversation.hasFocus)
    yield win
    win.close()
    win.taskman.shutdown()
