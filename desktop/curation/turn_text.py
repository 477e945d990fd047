"""How a turn reads on screen: its decision badges and history lines, and its wrapped text."""

from __future__ import annotations

import math
from html import escape

from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont, QPaintDevice, QTextLayout, QTextOption

from core.curation import SNIPPET_CLOSE, SNIPPET_OPEN, DecisionRecord, Status, TurnState


def state_badges(state: TurnState | None) -> list[tuple[str, str]]:
    """(label, status) chips: the status colours them."""
    if state is None:
        return []
    out: list[tuple[str, str]] = []
    if state.status is Status.INCLUDED:
        out.append(("✓ included", "included"))
    elif state.status is Status.EXCLUDED:
        out.append((f"✕ {state.reason}" if state.reason else "✕ excluded", "excluded"))
    if state.rating:
        out.append(("★" * state.rating, "unreviewed"))
    if state.flagged:
        out.append(("⚑ flagged", "excluded"))
    if state.note:
        out.append(("✎ note", "unreviewed"))
    if state.rater_count > 1 or (state.rater_count == 1 and state.status is Status.UNREVIEWED and state.effective_status is not Status.UNREVIEWED):
        out.append((f"all raters: {state.effective_status}", str(state.effective_status)))
    return out


def describe_record(rec: DecisionRecord) -> str:
    """One history line: when, who, and what that step did."""
    when = rec.at[:16].replace("T", " ")
    if rec.turn_id is None:
        what = f"category {rec.prev_category} → {rec.category}"
    elif rec.action == "include":
        what = "included"
    elif rec.action == "exclude":
        what = f"excluded ({rec.reason})" if rec.reason else "excluded"
    elif rec.action == "rate":
        what = f"rated {rec.rating}"
    elif rec.action in ("flag", "unflag"):
        what = f"{rec.action}ged"
    elif rec.action == "note":
        what = f"note: {rec.note}" if rec.note else "note removed"
    elif rec.action == "clear":
        what = "cleared"
    else:  # undo / redo: show the state they left behind
        parts = [str(rec.status)] if rec.status else []
        if rec.status is Status.EXCLUDED and rec.reason:
            parts[-1] += f" ({rec.reason})"
        if rec.rating:
            parts.append(f"rating {rec.rating}")
        if rec.flagged:
            parts.append("flagged")
        what = f"{rec.action} → " + (", ".join(parts) or "cleared")
    return f"{when}  {rec.rater}: {what}"


def snippet_html(snippet: str) -> str:
    """Escape the turn text first, then turn core's match markers into bold."""
    return (
        escape(" ".join(snippet.split()))
        .replace(SNIPPET_OPEN, "<b>")
        .replace(SNIPPET_CLOSE, "</b>")
    )


def lay_out_body(text: str, font: QFont, width: int, device: QPaintDevice | None = None) -> QTextLayout:
    """Wrap a turn's text once: a card's height and its painting use this same layout.

    Measuring with one call (QFontMetrics.boundingRect) and painting with
    another (QPainter.drawText) into a rectangle worked out separately let the
    two disagree: a long therapist turn painted 8 px narrower than it was
    measured wrapped onto one more line than its card had room for, and that
    last line was cut off. ``device`` is the widget painted on, so the font is
    resolved at that screen's DPI.
    """
    # drawText turned newlines into line separators for us; QTextLayout does not.
    layout = QTextLayout(text.replace("\r\n", "\n").replace("\n", "\u2028"), font, device)
    option = QTextOption()
    # A long URL breaks inside the card rather than running past its edge.
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.setCacheEnabled(True)
    layout.beginLayout()
    y = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLeadingIncluded(True)
        line.setLineWidth(width)
        line.setPosition(QPointF(0.0, y))
        y += line.height()
    layout.endLayout()
    return layout


def body_height(layout: QTextLayout) -> int:
    """Whole pixels that hold every line (rounded up, so a fractional last line is kept)."""
    return math.ceil(layout.boundingRect().bottom())
