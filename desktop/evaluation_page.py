"""The Evaluation page: the paper's tables and charts for any systems, and an item reader.

Choose a dataset and the systems to compare, press Evaluate (a ``QueryOp``
with progress and Cancel running ``core.evaluation.evaluate``, the very
function behind ``attune evaluate``, so the numbers are the CLI's), then read:

- Tables: one per category and one overall, in the paper's layout, formatted
  by ``core.evaluation.report`` exactly as the CLI prints them;
- Charts: QtCharts grouped bars per metric by category, with 95 % whiskers;
- Items: every test item with each system's distances (sortable), and the
  context, the therapist's reply and each system's reply side by side.

Exports write the same JSON/Markdown/CSV/HTML files as ``--report``.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

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
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.changes import OpChanges, OpChangesWith
from core.errors import OperationCancelled
from core.evaluation import report
from core.evaluation.responses import ResponsesImportReport, import_responses
from core.evaluation.evaluate import AVERAGES, SENTIMENT_NOTE, Block, EvaluationResult, evaluate
from core.evaluation.systems import THERAPIST, SystemInfo, list_systems
from core.progress import TaskState
from core.store import Store
from core.store.datasets import DatasetRecord, list_datasets
from desktop.operations import CollectionOp, QueryOp, taskman

EXPORTS = {
    "JSON": ("evaluation.json", "JSON (*.json)", report.to_json_text),
    "Markdown": ("evaluation.md", "Markdown (*.md)", report.to_markdown),
    "CSV": ("evaluation.csv", "CSV (*.csv)", report.to_csv),
    "HTML": ("evaluation.html", "HTML (*.html)", report.to_html),
}
CHART_METRICS = (*report.CHARTED_AVERAGES, "questions")
_COLOURS = ("#3b6ea8", "#d07a2d", "#4f9a57", "#a8485b", "#7a5ca8", "#8a7a3a", "#3a8a8a")
_ITEM_METRICS = (("length_diff", "Δ words"), ("sentence_diff", "Δ sentences"), ("sentiment_distance", "Δ sentiment"))


# Operations (one small function per user action) ############################


def load_choices(parent: QWidget) -> QueryOp[tuple[list[DatasetRecord], list[SystemInfo]]]:
    return QueryOp(parent, lambda store: (list_datasets(store), list_systems(store)))


def run_evaluation(parent: QWidget, dataset: str, systems: list[str], seed: int) -> QueryOp[EvaluationResult]:
    def op(store: Store, state: TaskState) -> EvaluationResult:
        return evaluate(store, dataset, systems, seed=seed, state=state)

    return QueryOp(parent, op).with_progress(f"Evaluating {', '.join(systems)} on {dataset}…")


def import_replies(
    parent: QWidget, system: str, path: Path, *, replace: bool = False
) -> CollectionOp[OpChangesWith[ResponsesImportReport]]:
    def op(store: Store, state: TaskState) -> OpChangesWith[ResponsesImportReport]:
        return import_responses(store, system, path, replace=replace, state=state)

    return CollectionOp(parent, op).with_progress(f"Importing replies for {system}…")


def export_result(parent: QWidget, result: EvaluationResult, kind: str, path: Path) -> QueryOp[Path]:
    render = EXPORTS[kind][2]

    def op(_store: Store) -> Path:
        report.write_atomic(path, render(result))
        return path

    return QueryOp(parent, op)


# Widgets ######################################################################


class _NumberItem(QTableWidgetItem):
    """Sorts by the number it holds; missing values sort last."""

    def __init__(self, value: float | None, text: str) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine = self.value if self.value is not None else float("inf")
        theirs = getattr(other, "value", None)
        return mine < (theirs if theirs is not None else float("inf"))


def _readonly_text(name: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setObjectName(name)
    box.setReadOnly(True)
    return box


class EvaluationPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationPage")
        self.result: EvaluationResult | None = None
        self.datasets: list[DatasetRecord] = []
        self.systems: list[SystemInfo] = []
        self.last_export: Path | None = None

        # Controls
        self.dataset_box = QComboBox()
        self.dataset_box.setObjectName("evaluationDataset")
        self.system_list = QListWidget()
        self.system_list.setObjectName("evaluationSystems")
        self.system_list.setMaximumHeight(110)
        self.system_list.setToolTip("Tick the systems to compare; the therapist column is always shown")
        self.seed_box = QSpinBox()
        self.seed_box.setObjectName("evaluationSeed")
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip("Seed of the bootstrap intervals; the same seed gives the same intervals")
        self.run_button = QPushButton("Evaluate")
        self.run_button.setObjectName("evaluateButton")
        self.run_button.clicked.connect(self.run)
        self.export_buttons: dict[str, QPushButton] = {}
        controls = QGridLayout()
        controls.addWidget(QLabel("Dataset"), 0, 0)
        controls.addWidget(self.dataset_box, 0, 1)
        controls.addWidget(QLabel("Seed"), 0, 2)
        controls.addWidget(self.seed_box, 0, 3)
        controls.addWidget(self.run_button, 0, 4)
        controls.addWidget(QLabel("Systems"), 1, 0, Qt.AlignmentFlag.AlignTop)
        controls.addWidget(self.system_list, 1, 1, 1, 4)
        exports = QHBoxLayout()
        exports.addWidget(QLabel("Export:"))
        for kind in EXPORTS:
            button = QPushButton(kind)
            button.setObjectName(f"export{kind}")
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, k=kind: self.ask_export(k))
            exports.addWidget(button)
            self.export_buttons[kind] = button
        exports.addStretch(1)
        self.import_button = QPushButton("Import replies…")
        self.import_button.setObjectName("importRepliesButton")
        self.import_button.setToolTip(
            'A JSONL file of {"example_id": …, "response": …} lines: one system\'s replies to test items'
        )
        self.import_button.clicked.connect(self.ask_import)
        exports.addWidget(self.import_button)
        self.status = QLabel("Choose a dataset and systems, then press Evaluate.")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # names datasets, systems and files
        self.status.setObjectName("evaluationStatus")
        self.status.setWordWrap(True)

        # Tables
        self.table_choice = QComboBox()
        self.table_choice.setObjectName("evaluationTableChoice")
        self.table_choice.currentIndexChanged.connect(self._show_table)
        self.table = QTableWidget()
        self.table.setObjectName("evaluationTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.paired = QLabel()
        self.paired.setTextFormat(Qt.TextFormat.PlainText)
        self.paired.setObjectName("evaluationPaired")
        self.paired.setWordWrap(True)
        self.paired.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        note = QLabel(SENTIMENT_NOTE)
        note.setObjectName("sentimentNote")
        note.setWordWrap(True)
        note.setStyleSheet("background:#fff6dd;border-left:4px solid #e0b341;padding:4px")
        tables = QWidget()
        tl = QVBoxLayout(tables)
        row = QHBoxLayout()
        row.addWidget(QLabel("Table"))
        row.addWidget(self.table_choice, 1)
        tl.addLayout(row)
        tl.addWidget(self.table, 1)
        tl.addWidget(self.paired)
        tl.addWidget(note)

        # Charts
        self.chart_metric = QComboBox()
        self.chart_metric.setObjectName("evaluationChartMetric")
        for metric in CHART_METRICS:
            self.chart_metric.addItem(report.METRIC_LABELS[metric], metric)
        self.chart_metric.currentIndexChanged.connect(self._show_chart)
        self.chart_view = QChartView()
        self.chart_view.setObjectName("evaluationChart")
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_note = QLabel()
        self.chart_note.setWordWrap(True)
        charts = QWidget()
        cl = QVBoxLayout(charts)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric"))
        row.addWidget(self.chart_metric, 1)
        cl.addLayout(row)
        cl.addWidget(self.chart_view, 1)
        cl.addWidget(self.chart_note)

        # Item reader
        self.items = QTableWidget()
        self.items.setObjectName("evaluationItems")
        self.items.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.items.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.items.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.items.setSortingEnabled(True)
        self.items.verticalHeader().setVisible(False)
        self.items.itemSelectionChanged.connect(self._show_item)
        self.context_text = _readonly_text("itemContext")
        self.reference_text = _readonly_text("itemReference")
        self.reply_row = QHBoxLayout()
        self.reply_boxes: dict[str, QPlainTextEdit] = {}
        self.reply_titles: dict[str, QGroupBox] = {}
        detail = QWidget()
        dl = QVBoxLayout(detail)
        ctx_box = QGroupBox("Context (oldest first)")
        QVBoxLayout(ctx_box).addWidget(self.context_text)
        dl.addWidget(ctx_box, 1)
        ref_box = QGroupBox("Therapist (reference)")
        QVBoxLayout(ref_box).addWidget(self.reference_text)
        self.reply_row.addWidget(ref_box)
        dl.addLayout(self.reply_row, 1)
        reader = QSplitter(Qt.Orientation.Vertical)
        reader.addWidget(self.items)
        reader.addWidget(detail)
        reader.setSizes([300, 300])

        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluationTabs")
        self.tabs.addTab(tables, "Tables")
        self.tabs.addTab(charts, "Charts")
        self.tabs.addTab(reader, "Items")

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(exports)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        self.refresh()

    # Loading choices ###########################################################

    def refresh(self) -> None:
        load_choices(self).success(self._set_choices).run_in_background()

    def _set_choices(self, choices: tuple[list[DatasetRecord], list[SystemInfo]]) -> None:
        datasets, systems = choices
        current = self.dataset_box.currentText()
        ticked = set(self.selected_systems())
        self.datasets, self.systems = datasets, systems
        self.dataset_box.clear()
        for d in datasets:
            self.dataset_box.addItem(d.name)
        if current:
            self.dataset_box.setCurrentText(current)
        self.system_list.clear()
        for s in systems:
            label = f"{s.name}  ({s.kind}, {s.replies} repl{'y' if s.replies == 1 else 'ies'})"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, s.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            # First visit: tick every stored system; the therapist is a column anyway.
            default = s.name != THERAPIST if not ticked else s.name in ticked
            item.setCheckState(Qt.CheckState.Checked if default else Qt.CheckState.Unchecked)
            self.system_list.addItem(item)
        self.run_button.setEnabled(bool(datasets))
        if not datasets:
            self.status.setText("No dataset yet: build one on the Dataset page, then import each "
                                "system's replies with Import replies… (or `attune responses import`).")

    def selected_systems(self) -> list[str]:
        out = []
        for i in range(self.system_list.count()):
            item = self.system_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def set_selection(self, dataset: str, systems: list[str]) -> None:
        """Choose a dataset and exactly these systems (used by tests and future deep links)."""
        self.dataset_box.setCurrentText(dataset)
        for i in range(self.system_list.count()):
            item = self.system_list.item(i)
            wanted = item.data(Qt.ItemDataRole.UserRole) in systems
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    # Running ###################################################################

    def run(self) -> None:
        dataset = self.dataset_box.currentText()
        systems = self.selected_systems()
        if not dataset:
            self.status.setText("Choose a dataset first.")
            return
        if not systems:
            self.status.setText("Tick at least one system to evaluate.")
            return
        self.status.setText(f"Evaluating {', '.join(systems)} on {dataset}…")
        self.run_button.setEnabled(False)

        def failed(exc: Exception) -> None:
            from desktop.errors import show_exception

            self.run_button.setEnabled(True)
            self.status.setText(f"Evaluation failed: {exc}")
            show_exception(self, exc)

        op = run_evaluation(self, dataset, systems, self.seed_box.value()).success(self.show_result).failure(failed)
        future = op.run_in_background()
        # A cancelled run calls neither success nor failure; this runs on any end.
        future.add_done_callback(lambda f: taskman().run_on_main(lambda: self._run_finished(f)))

    def _run_finished(self, future: Future) -> None:
        self.run_button.setEnabled(True)
        if not future.cancelled() and isinstance(future.exception(), OperationCancelled):
            self.status.setText("Evaluation cancelled; nothing changed.")

    def show_result(self, result: EvaluationResult) -> None:
        self.result = result
        for button in self.export_buttons.values():
            button.setEnabled(True)
        self.status.setText(
            f"{result.dataset}: {result.overall.n} test items, systems {', '.join(result.systems)}; "
            f"{round(result.confidence * 100)}% intervals from {result.resamples} resamples, seed {result.seed}."
        )
        self.table_choice.blockSignals(True)
        self.table_choice.clear()
        for name, block in report.blocks(result):
            self.table_choice.addItem(f"{name} (n = {block.n})", name)
        self.table_choice.blockSignals(False)
        self.table_choice.setCurrentIndex(0)
        self._show_table()
        self._show_chart()
        self._fill_items()

    def block(self, name: str) -> Block:
        assert self.result is not None
        return self.result.overall if name == "Overall" else self.result.categories[name]

    # Tables ####################################################################

    def _show_table(self) -> None:
        if self.result is None or self.table_choice.currentIndex() < 0:
            return
        name = self.table_choice.currentData()
        block = self.block(name)
        headers = report.headers(self.result)
        rows = report.table_rows(self.result, block)
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(headers)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        pairs = report.paired_lines(self.result, block)
        self.paired.setText("\n".join(pairs))

    def table_text(self) -> list[list[str]]:
        """What the visible table shows, cell by cell (headers first)."""
        out = [[self.table.horizontalHeaderItem(c).text() for c in range(self.table.columnCount())]]
        for r in range(self.table.rowCount()):
            out.append([self.table.item(r, c).text() for c in range(self.table.columnCount())])
        return out

    # Charts ####################################################################

    def _show_chart(self) -> None:
        if self.result is None:
            return
        metric = self.chart_metric.currentData()
        self.chart_view.setChart(self.build_chart(self.result, metric))
        self.chart_note.setText(SENTIMENT_NOTE if metric == "avg_sentiment_distance" else
                                "Lower is closer to the therapist; whiskers: 95% intervals."
                                if metric in AVERAGES else "Question marks in the replies, with the therapist's.")

    @staticmethod
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

    # Item reader ###############################################################

    def _fill_items(self) -> None:
        assert self.result is not None
        result = self.result
        headers = ["Item", "Category"] + [f"{s} {label}" for s in result.systems for _, label in _ITEM_METRICS]
        self.items.setSortingEnabled(False)
        self.items.clear()
        self.items.setColumnCount(len(headers))
        self.items.setHorizontalHeaderLabels(headers)
        self.items.setRowCount(len(result.items))
        for r, item in enumerate(result.items):
            first = QTableWidgetItem(item.example_id)
            first.setData(Qt.ItemDataRole.UserRole, item.example_id)
            self.items.setItem(r, 0, first)
            self.items.setItem(r, 1, QTableWidgetItem(item.category))
            c = 2
            for s in result.systems:
                score = result.scores[item.example_id][s]
                for attr, _ in _ITEM_METRICS:
                    value = getattr(score, attr)
                    text = ("—" if value is None else f"{value:.4f}" if attr == "sentiment_distance" else str(value))
                    if value is None:
                        text = f"— ({score.state})" if score.state != "ok" else "—"
                    self.items.setItem(r, c, _NumberItem(value, text))
                    c += 1
        self.items.setSortingEnabled(True)
        self.items.resizeColumnsToContents()
        # Reply panes: one per system, beside the therapist's.
        for s, box in list(self.reply_titles.items()):
            self.reply_row.removeWidget(box)
            box.deleteLater()
        self.reply_titles.clear()
        self.reply_boxes.clear()
        for s in result.systems:
            group = QGroupBox(s)
            text = _readonly_text(f"itemReply_{s}")
            QVBoxLayout(group).addWidget(text)
            self.reply_row.addWidget(group)
            self.reply_titles[s] = group
            self.reply_boxes[s] = text
        if result.items:
            self.items.selectRow(0)

    def sort_items_by(self, system: str, attr: str = "length_diff", *, descending: bool = True) -> None:
        assert self.result is not None
        col = 2 + self.result.systems.index(system) * len(_ITEM_METRICS) + [a for a, _ in _ITEM_METRICS].index(attr)
        self.items.sortItems(col, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)

    def item_order(self) -> list[str]:
        return [self.items.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.items.rowCount())]

    def _show_item(self) -> None:
        if self.result is None:
            return
        rows = self.items.selectionModel().selectedRows()
        if not rows:
            return
        eid = self.items.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        item = next(i for i in self.result.items if i.example_id == eid)
        self.context_text.setPlainText("\n\n".join(f"{role.capitalize()}: {text}" for role, text in item.context))
        self.reference_text.setPlainText(item.reference)
        for s, box in self.reply_boxes.items():
            score = self.result.scores[eid][s]
            if score.state == "ok":
                box.setPlainText(score.text)
                self.reply_titles[s].setTitle(
                    f"{s}: Δ {score.length_diff} words, Δ {score.sentence_diff} sentences, "
                    f"Δ sentiment {score.sentiment_distance:.4f}"
                )
            else:
                missing = {"none": "no reply", "blocked": "blocked by a safety filter", "empty": "empty reply"}
                box.setPlainText(f"({missing.get(score.state, score.state)}; counted as missing)")
                self.reply_titles[s].setTitle(f"{s}: missing")

    # Export ####################################################################

    def ask_export(self, kind: str) -> None:
        if self.result is None:
            return
        default, pattern, _ = EXPORTS[kind]
        path, _ = QFileDialog.getSaveFileName(self, f"Export evaluation as {kind}", default, pattern)
        if path:
            self.export_to(kind, Path(path))

    def export_to(self, kind: str, path: Path) -> None:
        assert self.result is not None
        export_result(self, self.result, kind, path).success(self._exported).run_in_background()

    def _exported(self, path: Path) -> None:
        self.last_export = path
        self.status.setText(f"Wrote {path}")

    # Importing replies #########################################################

    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a system's replies", "", "JSON Lines (*.jsonl *.json)")
        if not path:
            return
        system, ok = QInputDialog.getText(self, "Import replies", "System name (e.g. base, tuned):")
        if ok and system.strip():
            self.import_replies(system.strip(), Path(path))

    def import_replies(self, system: str, path: Path, *, replace: bool = False) -> None:
        import_replies(self, system, path, replace=replace).success(
            lambda out: self.status.setText("\n".join(out.value.lines()))
        ).run_in_background(initiator=self)

    # Changes elsewhere #########################################################

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        if changes.datasets or changes.responses or changes.transcripts or changes.turns:
            self.refresh()
            if self.result is not None and (changes.responses or changes.datasets or changes.turns):
                self.status.setText(self.status.text().split(" (stale")[0]
                                    + " (stale: replies or datasets changed; press Evaluate again)")
