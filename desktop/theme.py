"""Colours derived from the current palette, so light and dark mode both work.

Nothing here is a fixed colour: every tint is a blend of two palette roles,
recomputed on each paint, so switching the system theme (Qt 6.5+
``QStyleHints.colorScheme``) repaints correctly without a restart.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from core.models import Role


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``t`` of ``b`` over ``a``."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def _accent(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.Highlight)


def bubble(palette: QPalette, role: Role) -> QColor:
    base = palette.color(QPalette.ColorRole.Base)
    if role is Role.THERAPIST:
        return blend(base, _accent(palette), 0.16 if is_dark(palette) else 0.10)
    return blend(base, palette.color(QPalette.ColorRole.Text), 0.06)


def status_colour(palette: QPalette, status: str) -> QColor:
    """Included leans green, excluded red, blended into the palette's text colour."""
    text = palette.color(QPalette.ColorRole.Text)
    hue = {"included": QColor(40, 160, 70), "excluded": QColor(210, 60, 50)}.get(status)
    if hue is None:
        return blend(text, palette.color(QPalette.ColorRole.Base), 0.4)
    return blend(hue, text, 0.15) if not is_dark(palette) else blend(hue, text, 0.25)


def muted_text(palette: QPalette) -> QColor:
    return blend(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), 0.45)

