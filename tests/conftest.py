"""Shared fixtures. Tests never touch the user's real workspace."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
ANNOMI_SIMPLE = SHARED_DATA / "annomi" / "AnnoMI-simple.csv"
COUNSEL_CHAT = SHARED_DATA / "counsel-chat" / "20200325_counsel_chat.csv"

needs_annomi = pytest.mark.skipif(
    not ANNOMI_SIMPLE.exists(),
    reason=f"real AnnoMI data not present at {ANNOMI_SIMPLE} (only in the Attune workplace checkout)",
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # A test that forgets --home must still never write to the real user data folder.
    monkeypatch.setenv("ATTUNE_HOME", str(tmp_path_factory.mktemp("default-home")))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def store(workspace: Path):
    from core.store import open_store

    s = open_store(workspace)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _close_leftover_dialogs():
    # A test that ends with a message box open must not leak it into the next
    # test sharing the QApplication (the self-test refuses visible error boxes).
    yield
    qt_widgets = sys.modules.get("PySide6.QtWidgets")
    if qt_widgets is None or qt_widgets.QApplication.instance() is None:
        return
    for widget in qt_widgets.QApplication.topLevelWidgets():
        if isinstance(widget, qt_widgets.QMessageBox) and widget.isVisible():
            widget.close()
