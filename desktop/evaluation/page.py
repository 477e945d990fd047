"""The Evaluation page: the paper's tables and charts for any systems, and an item reader.

Choose a dataset and the systems to compare, press Evaluate (an operation
with progress and Cancel running ``core.evaluation.evaluate``, the very
function behind ``attune evaluate``, so the numbers are the CLI's), then read:

- Tables: one per category and one overall, in the paper's layout, formatted
  by ``core.evaluation.report`` exactly as the CLI prints them;
- Charts: grouped bars per metric by category, with 95 % whiskers (``charts``);
- Items: every test item with each system's distances, sortable, and the
  context, the therapist's reply and each system's reply side by side
  (``item_reader``).

Exports write the same JSON/Markdown/CSV/HTML files as ``--report``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.changes import OpChanges, OpChangesWith
from core.evaluation import report
from core.evaluation.evaluate import SENTIMENT_NOTE, Block, EvaluationResult
from core.evaluation.systems import THERAPIST, SystemInfo
from core.models import DatasetRecord
from desktop.evaluation.charts import ChartPanel
from desktop.evaluation.import_export import ask_export_path, ask_replies_to_import
from desktop.evaluation.item_reader import ItemReader
from desktop.operations import CollectionOp
from desktop.operations import evaluation as ops


class EvaluationPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationPage")
        self.result: EvaluationResult | None = None
        self.datasets: list[DatasetRecord] = []
        self.systems: list[SystemInfo] = []
        self.last_export: Path | None = None
        self.running: CollectionOp | None = None

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
        for kind in ops.EXPORTS:
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

        # Charts and the item reader live in their own modules.
        self.charts = ChartPanel()
        self.chart_metric = self.charts.metric
        self.chart_view = self.charts.view
        self.reader = ItemReader()
        self.items = self.reader.view
        self.context_text = self.reader.context_text
        self.reference_text = self.reader.reference_text
        self.reply_boxes = self.reader.reply_boxes
        self.reply_titles = self.reader.reply_titles

        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluationTabs")
        self.tabs.addTab(tables, "Tables")
        self.tabs.addTab(self.charts, "Charts")
        self.tabs.addTab(self.reader, "Items")

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(exports)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        self.refresh()

    # Loading choices ###########################################################

    def refresh(self) -> None:
        ops.load_choices(parent=self).success(self._set_choices).run_in_background()

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
        self.run_button.setEnabled(bool(datasets) and self.running is None)
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

            self.status.setText(f"Evaluation failed: {exc}")
            show_exception(self, exc)

        def finished() -> None:
            self.running = None
            self.run_button.setEnabled(True)

        self.running = (
            ops.run_evaluation(parent=self, dataset=dataset, systems=systems, seed=self.seed_box.value())
            .success(lambda out: self.show_result(out.value))
            .failure(failed)
            .on_cancel(lambda: self.status.setText("Evaluation cancelled; nothing changed."))
            .finally_(finished)
        )
        self.running.run_in_background(initiator=self)

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
        self.charts.show_result(result)
        self.reader.show_result(result)

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

    # Item reader ###############################################################

    def sort_items_by(self, system: str, attr: str = "length_diff", *, descending: bool = True) -> None:
        self.reader.sort_by(system, attr, descending=descending)

    def item_order(self) -> list[str]:
        return self.reader.order()

    # Export ####################################################################

    def ask_export(self, kind: str) -> None:
        if self.result is None:
            return
        path = ask_export_path(self, kind)
        if path is not None:
            self.export_to(kind, path)

    def export_to(self, kind: str, path: Path) -> None:
        assert self.result is not None
        ops.export_result(parent=self, result=self.result, kind=kind, path=path).success(
            self._exported
        ).run_in_background()

    def _exported(self, path: Path) -> None:
        self.last_export = path
        self.status.setText(f"Wrote {path}")

    # Importing replies #########################################################

    def ask_import(self) -> None:
        chosen = ask_replies_to_import(self)
        if chosen is not None:
            self.import_replies(*chosen)

    def import_replies(self, system: str, path: Path, *, replace: bool = False) -> None:
        def imported(out: OpChangesWith) -> None:
            self.status.setText("\n".join(out.value.lines()))

        ops.import_replies(parent=self, system=system, path=path, replace=replace).success(
            imported
        ).run_in_background(initiator=self)

    # Changes elsewhere #########################################################

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        if changes.datasets or changes.responses or changes.transcripts or changes.turns:
            self.refresh()
            if self.result is not None and (changes.responses or changes.datasets or changes.turns):
                self.status.setText(self.status.text().split(" (stale")[0]
                                    + " (stale: replies or datasets changed; press Evaluate again)")
