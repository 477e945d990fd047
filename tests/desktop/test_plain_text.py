"""Imported text is text: titles and speaker labels that look like HTML are shown as typed (issue 11).

A JSON title drew a red heading with a link, because QLabel and tooltips guess
rich text from the string. The real main window is opened on a workspace whose
title and speaker labels are markup.
"""

from __future__ import annotations

import html

import pytest
from PySide6.QtCore import Qt

from core.models import ParsedTranscript, ParsedTurn, Role
from tests.desktop.conftest import Workspace, build_workspace, long_reply

TITLE = '<h1 style="color:red">Red</h1><a href="https://example.com">link</a>'
SPEAKER = "<b>DR</b> <i>X</i>"


@pytest.fixture
def small_workspace(tmp_path) -> Workspace:
    # Overrides conftest's: the `window` fixture opens this one.
    turns = [
        ParsedTurn(Role.CLIENT, "<u>C</u>", "I keep thinking about it.", "I keep thinking about it."),
        ParsedTurn(Role.THERAPIST, SPEAKER, long_reply("it"), long_reply("it")),
        ParsedTurn(Role.CLIENT, "<u>C</u>", "Yes.", "Yes."),
    ]
    home = tmp_path / "ws"
    ids = build_workspace(home, [ParsedTranscript(title=TITLE, format="test", turns=turns)])
    return Workspace(home, ids)


def test_titles_and_speaker_labels_render_as_plain_text(qtbot, window) -> None:
    from PySide6 import QtGui

    assert QtGui.Qt.mightBeRichText(TITLE)  # what Qt would have rendered as a red heading
    page = window.curation
    qtbot.waitUntil(lambda: TITLE in page.heading.text())
    assert page.heading.textFormat() == Qt.TextFormat.PlainText
    # Tooltips are always rich text; the title is escaped inside one, so it shows as typed.
    assert html.escape(TITLE) in page.heading.toolTip()
    assert "<h1" not in page.heading.toolTip()
    model = page.transcripts.model
    tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert html.escape(TITLE) in tip and "<a " not in tip
    panel = page.panel
    qtbot.waitUntil(lambda: SPEAKER in panel.title.text())
    assert panel.title.textFormat() == Qt.TextFormat.PlainText
