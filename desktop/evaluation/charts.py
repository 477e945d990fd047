"""Evaluation charts: grouped bars per metric by category, with 95 % whiskers."""

from __future__ import annotations

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.evaluation import report
from core.evaluation.evaluate import AVERAGES, SENTIMENT_NOTE, EvaluationResult

CHART_METRICS = (*report.CHARTED_AVERAGES, "questions")
_COLOURS = ("#3b6ea8", "#d07a2d", "#4f9a57", "#a8485b", "#7a5ca8", "#8a7a3a", "#3a8a8a")


def build_chart(result: EvaluationResult, metric: str) -> QChart:
    """Grouped bars: one group per table (overall, categories), one bar per system."""
    groups = report.blocks(result)
    names = list(result.systems) + (["Therapist"] if metric == "questions" else [])
    chart = QChart()
    chart.setTitle(f"{report.METRIC_LABELS[metric]} by category")
    bars = QBarSeries()
    top = 0.0
    whiskers: list[tuple[int, int, tuple[float, float]]] = []
    for j, name in enumerate(names):
        bar_set = QBarSet(name)
        bar_set.setColor(QColor("#777777" if name == "Therapist" else _COLOURS[j % len(_COLOURS)]))
        for g, (_, block) in enumerate(groups):
            if name == "Therapist":
                value = float(block.therapist.questions)
            else:
                raw = getattr(block.systems[name], metric)
                value = float(raw) if raw is not None else 0.0
                iv = block.intervals[name].get(metric) if metric in AVERAGES else None
                if iv is not None:
                    whiskers.append((g, j, iv))
                    top = max(top, iv[1])
            bar_set.append(value)
            top = max(top, value)
        bars.append(bar_set)
    chart.addSeries(bars)
    x_axis = QBarCategoryAxis()
    x_axis.append([f"{name} ({block.n})" for name, block in groups])
    y_axis = QValueAxis()
    y_axis.setRange(0, top * 1.1 if top > 0 else 1.0)
    chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
    bars.attachAxis(x_axis)
    bars.attachAxis(y_axis)
    # Whiskers on a hidden numeric x axis aligned with the category axis:
    # category g spans [g - 0.5, g + 0.5]; the bars of a group share
    # ``barWidth`` of it, set j centred at its slice's middle.
    hidden_x = QValueAxis()
    hidden_x.setRange(-0.5, len(groups) - 0.5)
    hidden_x.setVisible(False)
    chart.addAxis(hidden_x, Qt.AlignmentFlag.AlignBottom)
    width = bars.barWidth()
    pen = QPen(QColor("#222222"))
    pen.setWidthF(1.5)
    for g, j, (lo, hi) in whiskers:
        x = g - width / 2 + (j + 0.5) * width / len(names)
        line = QLineSeries()
        line.setPen(pen)
        line.append([QPointF(x, lo), QPointF(x, hi)])
        chart.addSeries(line)
        line.attachAxis(hidden_x)
        line.attachAxis(y_axis)
        for marker in chart.legend().markers(line):
            marker.setVisible(False)
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    return chart


class ChartPanel(QWidget):
    """A metric chooser above the chart of the current result."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: EvaluationResult | None = None
        self.metric = QComboBox()
        self.metric.setObjectName("evaluationChartMetric")
        for metric in CHART_METRICS:
            self.metric.addItem(report.METRIC_LABELS[metric], metric)
        self.metric.currentIndexChanged.connect(self._redraw)
        self.view = QChartView()
        self.view.setObjectName("evaluationChart")
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric"))
        row.addWidget(self.metric, 1)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.note)

    def show_result(self, result: EvaluationResult) -> None:
        self.result = result
        self._redraw()

    def _redraw(self) -> None:
        if self.result is None:
            return
        metric = self.metric.currentData()
        self.view.setChart(build_chart(self.result, metric))
        self.note.setText(SENTIMENT_NOTE if metric == "avg_sentiment_distance" else
                          "Lower is closer to the therapist; whiskers: 95% intervals."
                          if metric in AVERAGES else "Question marks in the replies, with the therapist's.")
