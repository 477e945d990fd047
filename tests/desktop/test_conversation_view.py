"""Every line of every turn is inside its card, at any width, font size and pixel ratio.

Real fonts (fontconfig's, as the app gets them), real text: the demonstration
transcripts through the real importer, AnnoMI's longest therapist turns when
the shared data is present, and a few awkward shapes. The same tests run
under other screens (pixel ratios 1.25 to 2, X11 under Xvfb) from
test_conversation_view_platforms.py; ``ATTUNE_EXPECT_DPR`` tells them which.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontInfo, QImage, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from core.ids import TranscriptId, TurnId
from core.importers import parse_bytes
from core.models import Role, Turn
from desktop.curation.conversation_view import ConversationModel, ConversationView
from tests.conftest import ANNOMI_SIMPLE, REPO

WIDTHS = (300, 460, 640, 900)
# Point sizes stand in for font DPI (9 pt at 96, 120 and 144 dpi is 12, 15 and 18 px).
FONTS = (("pt", 9.0), ("pt", 11.25), ("pt", 13.5), ("px", 17), ("px", 23))
IMPRESSION = "What's your impression?"


def _turn(i: int, role: Role, speaker: str, text: str) -> Turn:
    return Turn(TurnId(i + 1), TranscriptId(1), i, role, speaker, text, text, len(text.split()))


def real_turns() -> list[Turn]:
    texts: list[tuple[Role, str, str]] = []
    for path in sorted((REPO / "resources" / "demo").glob("*.txt")):
        for parsed in parse_bytes(path, path.read_bytes()):
            texts += [(t.role, t.speaker, t.text) for t in parsed.turns]
    if ANNOMI_SIMPLE.exists():
        with ANNOMI_SIMPLE.open(encoding="utf-8", newline="") as f:
            therapist = [r["utterance_text"] for r in csv.DictReader(f) if r["interlocutor"] == "therapist"]
        chosen = sorted(therapist, key=len)[-40:] + [t for t in therapist if t.endswith(IMPRESSION)]
        texts += [(Role.THERAPIST, "Therapist", t) for t in chosen]
    texts += [
        (Role.THERAPIST, "Therapist", "One line."),
        (Role.CLIENT, "Client", "First paragraph.\nSecond paragraph after a newline.\r\n\nAnd a third after a blank line."),
        (Role.THERAPIST, "Therapist", "See https://example.org/" + "a-very-long-path-segment-" * 12 + " for more."),
        (Role.CLIENT, "Client", " ".join(["word"] * 400)),
    ]
    return [_turn(i, role, speaker, text) for i, (role, speaker, text) in enumerate(texts)]


TURNS = real_turns()


@pytest.fixture
def view(qtbot) -> ConversationView:
    v = ConversationView()
    model = ConversationModel()
    v.setModel(model)
    qtbot.addWidget(v)
    model.set_turns(TURNS, {})
    v.resize(WIDTHS[0], 600)
    v.show()
    qtbot.waitExposed(v)
    # Run from test_conversation_view_platforms.py: prove the screen is the one asked for.
    if os.environ.get("ATTUNE_EXPECT_DPR"):
        assert v.devicePixelRatioF() == pytest.approx(float(os.environ["ATTUNE_EXPECT_DPR"]))
    if os.environ.get("ATTUNE_EXPECT_DPI"):
        assert v.logicalDpiY() == int(os.environ["ATTUNE_EXPECT_DPI"])
    return v


def _set_font(v: ConversationView, unit: str, size: float) -> None:
    font = QFont(v.font())
    if unit == "pt":
        font.setPointSizeF(size)
    else:
        font.setPixelSize(int(size))
    v.setFont(font)
    assert QFontInfo(font).family(), "no real font resolved"


def clipped_rows(v: ConversationView) -> list[str]:
    """Each row whose last text line is not inside its card, described; [] when all fit."""
    model: ConversationModel = v.model()  # type: ignore[assignment]
    pad = v.delegate.PAD
    bad = []
    above = None
    for row, turn in enumerate(model.turns()):
        rect = v.visualRect(model.index(row))
        if above is not None and rect.top() != above.bottom() + 1:
            # Rows measured at one width but placed at another overlap (or leave gaps).
            bad.append(f"row {row} at width {v.viewport().width()}: starts at {rect.top()}, not below the row above ({above})")
        above = rect
        card = v.delegate.card(rect, turn, v.font())
        layout = card.text
        last = layout.lineAt(layout.lineCount() - 1).rect().translated(QPointF(card.body.topLeft()))
        inside = QRectF(card.bubble.adjusted(pad, pad, -pad, -pad))
        every_char_laid_out = sum(layout.lineAt(i).textLength() for i in range(layout.lineCount())) == len(layout.text())
        if not (
            every_char_laid_out
            and last.bottom() <= inside.bottom() + 0.01
            and last.left() >= inside.left() - 0.01
            and QRectF(rect).contains(QRectF(card.bubble))
        ):
            bad.append(
                f"row {row} at width {v.viewport().width()}: {layout.lineCount()} lines, last line {last} "
                f"outside {inside} (…{turn.text[-30:]!r})"
            )
    return bad


def _laid_out(v: ConversationView) -> None:
    # A resize asks for a new layout on the next event-loop pass; run it now, as Qt would.
    v.executeDelayedItemsLayout()


@pytest.mark.parametrize("unit,size", FONTS)
def test_every_line_fits_at_every_width(qtbot, view: ConversationView, unit: str, size: float) -> None:
    _set_font(view, unit, size)
    # Narrowing matters most: rows measured at the wider width would overlap.
    for width in WIDTHS + WIDTHS[-2::-1]:
        view.resize(width, 600)
        _laid_out(view)
        assert clipped_rows(view) == [], f"font {size} {unit}"


def test_impression_turn_ends_with_its_last_words_on_screen(qtbot, view: ConversationView) -> None:
    if not ANNOMI_SIMPLE.exists():
        pytest.skip(f"real AnnoMI data not present at {ANNOMI_SIMPLE}")
    row = next(i for i, t in enumerate(TURNS) if t.text.endswith(IMPRESSION))
    for width in WIDTHS:
        view.resize(width, 600)
        _laid_out(view)
        card = view.delegate.card(view.visualRect(view.model().index(row)), TURNS[row], view.font())
        last = card.text.lineAt(card.text.lineCount() - 1)
        assert card.text.text()[last.textStart() : last.textStart() + last.textLength()].rstrip().endswith("impression?")


def test_a_longer_text_under_the_same_id_gets_a_taller_card(qtbot, view: ConversationView) -> None:
    # Redaction or a re-import can change a turn's text; the height cache must notice.
    model: ConversationModel = view.model()  # type: ignore[assignment]
    short = _turn(0, Role.THERAPIST, "Therapist", "Short.")
    model.set_turns([short], {})
    _laid_out(view)
    before = view.visualRect(model.index(0)).height()
    model.set_turns([_turn(0, Role.THERAPIST, "Therapist", "Much longer now. " * 60)], {})
    _laid_out(view)
    assert view.visualRect(model.index(0)).height() > before


@pytest.mark.parametrize("ratio", [1.0, 1.25, 1.5, 2.0])
def test_painted_card_shows_its_last_line(qtbot, view: ConversationView, ratio: float) -> None:
    """Paint each long card into an image at this pixel ratio: ink in its last line's band, none below it."""
    model: ConversationModel = view.model()  # type: ignore[assignment]
    view.resize(WIDTHS[1], 600)
    _laid_out(view)
    rows = [i for i, t in enumerate(model.turns()) if t.word_count >= 50][:8]
    assert rows
    for selected in (False, True):
        for row in rows:
            index = model.index(row)
            rect = view.visualRect(index)
            card = view.delegate.card(rect, TURNS[row], view.font())
            image = QImage(math.ceil(rect.width() * ratio), math.ceil(rect.height() * ratio), QImage.Format.Format_ARGB32)
            image.setDevicePixelRatio(ratio)
            image.fill(QColor("white"))
            option = QStyleOptionViewItem()
            view.initViewItemOption(option)
            option.rect = QRect(0, 0, rect.width(), rect.height())
            if selected:
                option.state |= QStyle.StateFlag.State_Selected
            painter = QPainter(image)
            view.delegate.paint(painter, option, index)
            painter.end()
            shift = QPointF(-rect.left(), -rect.top())
            last = card.text.lineAt(card.text.lineCount() - 1).rect().translated(QPointF(card.body.topLeft()) + shift)
            text_colour = view.palette().color(QPalette.ColorRole.Text)
            assert _ink(image, ratio, last, text_colour) > 0, f"row {row}: its last line was not painted"
            below = QRectF(last.left(), last.bottom() + 1, last.width(), card.bubble.bottom() + shift.y() - last.bottom() - 3)
            assert _ink(image, ratio, below, text_colour) == 0, f"row {row}: text painted below its last line"


def _ink(image: QImage, ratio: float, area: QRectF, colour: QColor, enough: int = 1) -> int:
    """Pixels in ``area`` (logical coordinates) close to the text colour, counting up to ``enough``."""
    x0, y0 = int(area.left() * ratio), int(area.top() * ratio)
    x1 = min(image.width(), int(area.right() * ratio))
    y1 = min(image.height(), int(area.bottom() * ratio))
    count = 0
    for y in range(max(0, y0), y1):
        for x in range(max(0, x0), x1, 2):
            c = image.pixelColor(x, y)
            if abs(c.red() - colour.red()) + abs(c.green() - colour.green()) + abs(c.blue() - colour.blue()) < 120:
                count += 1
                if count >= enough:
                    return count
    return count


def test_turns_come_from_real_files() -> None:
    # Guards the data above: the demo files must have parsed into long therapist turns.
    assert sum(1 for t in TURNS if t.role is Role.THERAPIST and t.word_count >= 50) >= 10
    assert Path(REPO / "resources" / "demo").is_dir()
