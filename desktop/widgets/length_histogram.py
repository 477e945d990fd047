"""The length histogram of therapist turns (the Dataset page's picture).

Most therapist turns are a few words long; only the turns right of the
minimum-words line become targets.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.datasets import DatasetRules
from core.models import LENGTH_HISTOGRAM_CAP

UNDER_WORDS = 8  # the paper's "under 8 words" share


class LengthHistogram(QWidget):
    """Therapist-turn lengths: all turns vs selected targets, one bar per word count.

    Square-root vertical scale, so the few long turns stay visible beside the
    many short ones; the 8-word and minimum-words lines are drawn on it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lengthHistogram")
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.all_lengths: dict[int, int] = {}
        self.target_lengths: dict[int, int] = {}
        self.min_words = DatasetRules().min_words
        self.under_8_share = 0.0
        self.setToolTip("Therapist turns by length in words (grey: all; highlighted: selected targets)")

    def set_data(self, all_lengths: dict[int, int], target_lengths: dict[int, int], min_words: int,
                 under_8_share: float) -> None:
        self.all_lengths = dict(all_lengths)
        self.target_lengths = dict(target_lengths)
        self.min_words = min_words
        self.under_8_share = under_8_share
        self.update()

    def summary(self) -> str:
        """The picture in words (accessibility, tests)."""
        total = sum(self.all_lengths.values())
        targets = sum(self.target_lengths.values())
        return (f"{total} therapist turns, {self.under_8_share:.0%} under {UNDER_WORDS} words; "
                f"{targets} selected targets of {self.min_words}+ words")

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        accent = pal.color(QPalette.ColorRole.Highlight)
        fm = p.fontMetrics()
        line_h = fm.height()
        plot = QRectF(8, line_h + 8, max(10, self.width() - 16), max(10, self.height() - 2 * line_h - 20))
        p.setPen(text)
        self.setAccessibleDescription(self.summary())
        p.drawText(QRectF(8, 2, self.width() - 16, line_h),
                   Qt.AlignmentFlag.AlignLeft, self.summary() + "  (square-root scale)")
        cap = LENGTH_HISTOGRAM_CAP
        biggest = max(self.all_lengths.values(), default=0)
        if biggest == 0:
            p.setPen(muted)
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "No therapist turns yet")
            return
        bar_w = plot.width() / (cap + 1)
        scale = plot.height() / math.sqrt(biggest)
        grey = QColor(muted)
        grey.setAlpha(150)

        def bars(data: dict[int, int], colour: QColor) -> None:
            for words, n in data.items():
                if n <= 0:
                    continue
                h = math.sqrt(n) * scale
                x = plot.left() + min(words, cap) * bar_w
                p.fillRect(QRectF(x, plot.bottom() - h, max(1.0, bar_w - 0.5), h), colour)

        bars(self.all_lengths, grey)
        bars(self.target_lengths, accent)
        for words, label in ((UNDER_WORDS, f"{UNDER_WORDS}"), (self.min_words, f"{self.min_words} words")):
            x = plot.left() + min(words, cap) * bar_w
            pen = QPen(text)
            pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(int(x), int(plot.top()), int(x), int(plot.bottom()))
            p.drawText(int(x) + 3, int(plot.top()) + line_h, label)
        p.setPen(text)
        p.drawLine(int(plot.left()), int(plot.bottom()), int(plot.right()), int(plot.bottom()))
        y = int(plot.bottom()) + line_h + 2
        for words in (0, 25, 50, 75, 100, 125):
            p.drawText(int(plot.left() + words * bar_w), y, str(words))
        p.drawText(QRectF(plot.left(), y - line_h + 3, plot.width(), line_h), Qt.AlignmentFlag.AlignRight, f"{cap}+ words")
        p.drawText(QRectF(plot.left(), plot.top(), plot.width(), line_h), Qt.AlignmentFlag.AlignRight,
                   f"tallest bar: {biggest} turns")
        p.end()
