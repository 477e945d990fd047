"""The Dataset page: rules with live counts, the length histogram, build and export.

Everything the page shows comes from ``core.datasets.preview`` (a debounced
``QueryOp`` re-run whenever a rule or the curation changes) and from the stored
datasets; Build and Export are ops with progress and Cancel. The histogram is
the paper's picture: most therapist turns are a few words long, and only the
turns right of the 50-word line become targets.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.changes import OpChanges
from core.datasets import DatasetRules, ExportResult, Preview
from core.datasets.card import removal_label, removal_order
from core.datasets.rules import DEFAULT_SYSTEM_INSTRUCTION
from core.models import SPLITS, DatasetRecord
from desktop.operations import datasets as ops
from desktop.widgets.length_histogram import UNDER_WORDS, LengthHistogram

PREVIEW_DEBOUNCE_MS = 250


class DatasetPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPage")
        self.preview: Preview | None = None
        self.datasets: list[DatasetRecord] = []
        self.last_export: ExportResult | None = None
        self._pending_select: str | None = None
        self._stale = False
        self._preview_running = False
        self._preview_again = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._timer.timeout.connect(self._run_preview)
        self._build_ui()
        self.schedule_preview()
        self.refresh_datasets()

    # Layout ###################################################################

    def _build_ui(self) -> None:
        defaults = DatasetRules()
        form_box = QGroupBox("Rules")
        form = QFormLayout(form_box)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("datasetName")
        self.name_edit.setPlaceholderText("name of the new dataset")
        form.addRow("Name", self.name_edit)
        self.min_words = self._spin(1, 10_000, defaults.min_words, "minWords")
        form.addRow("Target: min. words", self.min_words)
        self.min_words.setToolTip("A target is a therapist turn of at least this many words (the paper: 50)")
        self.context_turns = self._spin(1, 200, defaults.context_turns, "contextTurns")
        form.addRow("Context turns", self.context_turns)
        self.context_turns.setToolTip("At most this many turns before the target, starting and ending on a client turn")
        self.context_chars = self._spin(100, 10_000_000, defaults.context_chars, "contextChars")
        self.context_chars.setSingleStep(1000)
        form.addRow("Context characters", self.context_chars)
        self.context_chars.setToolTip("At most this many characters of context, cut only between turns")
        self.min_rating = QDoubleSpinBox()
        self.min_rating.setObjectName("minRating")
        self.min_rating.setRange(0.0, 5.0)
        self.min_rating.setSingleStep(0.5)
        self.min_rating.setDecimals(1)
        self.min_rating.setSpecialValueText("none")  # 0 = no minimum rating
        self.min_rating.setValue(defaults.min_rating or 0.0)
        self.min_rating.valueChanged.connect(self.schedule_preview)
        form.addRow("Min. rating", self.min_rating)
        self.min_rating.setToolTip("Leave out rated turns below this (default 3: turns rated 1 or 2, \"poor\", "
                                   "are left out); unrated turns are kept")
        self.include_demo = QCheckBox("Include demonstration transcripts")
        self.include_demo.setObjectName("includeDemo")
        self.include_demo.setToolTip("The made-up sessions shown to a new user stay out of datasets unless ticked")
        self.include_demo.toggled.connect(self.schedule_preview)
        form.addRow("", self.include_demo)
        self.session_rules = QLineEdit("; ".join(defaults.session_rules))
        self.session_rules.setObjectName("sessionRules")
        self.session_rules.setPlaceholderText("none: every session counts")
        self.session_rules.setToolTip(
            "Conditions on each session's source metadata, separated by ';', as KEY OP VALUE with OP one of "
            "= != >= <= > < (e.g. 'mi_quality != low', 'upvotes >= 2'). Sessions that fail one are left out; "
            "the default leaves out AnnoMI's low-quality sessions."
        )
        self.session_rules.textChanged.connect(self.schedule_preview)
        form.addRow("Sessions must meet", self.session_rules)
        self.reviewed_only = QCheckBox("Only turns a rater included")
        self.reviewed_only.setObjectName("reviewedOnly")
        self.reviewed_only.toggled.connect(self.schedule_preview)
        form.addRow("", self.reviewed_only)
        self.seed = self._spin(0, 2_147_483_647, defaults.seed, "seed")
        form.addRow("Seed", self.seed)
        split_row = QHBoxLayout()
        self.split_spins = []
        for split, pct in zip(SPLITS, defaults.split, strict=True):
            spin = self._spin(0, 100, pct, f"split_{split}")
            spin.setSuffix(" %")
            spin.setToolTip(f"{split} share")
            self.split_spins.append(spin)
            split_row.addWidget(spin)
        form.addRow("Train/val./test", split_row)
        self.freeze_test = QCheckBox("Freeze test split")
        self.freeze_test.setToolTip("Later datasets reuse this test split and keep its clients out of training")
        self.freeze_test.setObjectName("freezeTest")
        form.addRow("", self.freeze_test)
        self.system_instruction = QPlainTextEdit(DEFAULT_SYSTEM_INSTRUCTION)
        self.system_instruction.setObjectName("systemInstruction")
        self.system_instruction.setMaximumHeight(90)
        form.addRow("System instruction", self.system_instruction)
        buttons = QHBoxLayout()
        self.build_button = QPushButton("Build dataset")
        self.build_button.setObjectName("buildButton")
        self.build_button.clicked.connect(self.build)
        buttons.addWidget(self.build_button)
        buttons.addStretch(1)
        form.addRow(buttons)
        self.rules_error = QLabel()
        self.rules_error.setTextFormat(Qt.TextFormat.PlainText)  # these labels quote dataset names and errors
        self.rules_error.setObjectName("rulesError")
        self.rules_error.setWordWrap(True)
        self.rules_error.setStyleSheet("color: palette(link);")
        form.addRow(self.rules_error)

        left = QScrollArea()
        left.setWidgetResizable(True)
        left.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.setWidget(form_box)
        left.setMinimumWidth(form_box.sizeHint().width() + 24)

        right = QWidget()
        rv = QVBoxLayout(right)
        self.unreviewed_label = QLabel()
        self.unreviewed_label.setTextFormat(Qt.TextFormat.PlainText)
        self.unreviewed_label.setObjectName("unreviewedTargets")
        font = self.unreviewed_label.font()
        font.setBold(True)
        self.unreviewed_label.setFont(font)
        rv.addWidget(self.unreviewed_label)
        self.counts_label = QLabel("Counting…")
        self.counts_label.setTextFormat(Qt.TextFormat.PlainText)
        self.counts_label.setObjectName("liveCounts")
        self.counts_label.setWordWrap(True)
        rv.addWidget(self.counts_label)
        self.histogram = LengthHistogram()
        rv.addWidget(self.histogram, 2)
        self.category_table = QTableWidget(0, 5)
        self.category_table.setObjectName("categoryCounts")
        self.category_table.setHorizontalHeaderLabels(["Category", "Train", "Validation", "Test", "Total"])
        self._readonly(self.category_table)
        rv.addWidget(self.category_table, 1)
        self.removed_label = QLabel()
        self.removed_label.setTextFormat(Qt.TextFormat.PlainText)
        self.removed_label.setObjectName("removedCounts")
        self.removed_label.setWordWrap(True)
        rv.addWidget(self.removed_label)
        self.warnings_label = QLabel()
        self.warnings_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warnings_label.setObjectName("datasetWarnings")
        self.warnings_label.setWordWrap(True)
        rv.addWidget(self.warnings_label)

        built = QGroupBox("Built datasets")
        bv = QVBoxLayout(built)
        self.dataset_table = QTableWidget(0, 6)
        self.dataset_table.setObjectName("datasetList")
        self.dataset_table.setHorizontalHeaderLabels(["Name", "Train", "Validation", "Test", "Test split", "Hash"])
        self._readonly(self.dataset_table)
        self.dataset_table.itemSelectionChanged.connect(self._selection_changed)
        bv.addWidget(self.dataset_table)
        row = QHBoxLayout()
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_selected)
        row.addWidget(self.export_button)
        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setObjectName("datasetStatus")
        self.status_label.setWordWrap(True)
        row.addWidget(self.status_label, 1)
        bv.addLayout(row)
        rv.addWidget(built, 1)

        splitter = QSplitter()
        splitter.setObjectName("datasetSplitter")
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([380, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def _spin(self, low: int, high: int, value: int, name: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(low, high)
        spin.setValue(value)
        spin.valueChanged.connect(self.schedule_preview)
        return spin

    @staticmethod
    def _readonly(table: QTableWidget) -> None:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)

    # Rules ####################################################################

    def rules(self) -> DatasetRules:
        """The rules as the form shows them (not yet validated)."""
        rating = self.min_rating.value()
        return DatasetRules(
            min_words=self.min_words.value(),
            context_turns=self.context_turns.value(),
            context_chars=self.context_chars.value(),
            min_rating=rating if rating > 0 else None,
            reviewed_only=self.reviewed_only.isChecked(),
            seed=self.seed.value(),
            split=tuple(s.value() for s in self.split_spins),  # type: ignore[arg-type]
            system_instruction=self.system_instruction.toPlainText().strip(),
            freeze_test=self.freeze_test.isChecked(),
            include_demo=self.include_demo.isChecked(),
            session_rules=tuple(r.strip() for r in self.session_rules.text().split(";") if r.strip()),
        )

    def _rules_problem(self) -> str | None:
        from core.errors import UsageError

        try:
            self.rules().validate()
        except UsageError as exc:
            return str(exc)
        return None

    # Live counts ##############################################################

    def schedule_preview(self, *_args: object) -> None:
        problem = self._rules_problem()
        self.rules_error.setText(problem or "")
        self.build_button.setEnabled(problem is None)
        if problem is not None:
            return
        if self.isVisible():
            self._timer.start()
        else:
            # Counting a large workspace takes the database thread for a moment:
            # not while the user is curating on another page.
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().hideEvent(event)
        if self._timer.isActive():  # count when the page is seen again
            self._timer.stop()
            self._stale = True

    def _run_preview(self) -> None:
        if self._preview_running:
            self._preview_again = True
            return
        if self._rules_problem() is not None:
            return
        self._preview_running = True
        ops.preview_rules(parent=self, rules=self.rules()).success(self._preview_done).failure(
            self._preview_failed
        ).run_in_background()

    def _preview_finished(self) -> bool:
        self._preview_running = False
        if self._preview_again:
            self._preview_again = False
            self._run_preview()
            return False
        return True

    def _preview_failed(self, exc: Exception) -> None:
        if self._preview_finished():
            self.counts_label.setText(f"Cannot count with these rules: {exc}")

    def _preview_done(self, preview: Preview) -> None:
        if not self._preview_finished():
            return  # the rules changed meanwhile; the newer preview is on its way
        self.show_preview(preview)

    def show_preview(self, p: Preview) -> None:
        self.preview = p
        self.unreviewed_label.setText(
            f"{p.unreviewed_targets} of {p.targets} targets are still unreviewed"
            + (" (excluded from this dataset: reviewed-only)" if p.rules.reviewed_only else "")
        )
        s = p.splits
        frozen = f" Test split reused from the frozen dataset {p.test_from}." if p.test_from else ""
        self.counts_label.setText(
            f"{p.targets} targets: {s['train']} train, {s['validation']} validation, {s['test']} test. "
            f"{p.candidates} therapist turns have {p.rules.min_words}+ words; "
            f"{p.therapist_under_8} of {p.therapist_turns} therapist turns "
            f"({p.under_8_share:.0%}) are under {UNDER_WORDS} words.{frozen}"
        )
        self.histogram.set_data(p.all_lengths, p.target_lengths, p.rules.min_words, p.under_8_share)
        cats = sorted(p.by_category)
        self.category_table.setRowCount(len(cats))
        for row, cat in enumerate(cats):
            per = p.by_category[cat]
            values = [cat, *(per[s_] for s_ in SPLITS), sum(per.values())]
            for col, v in enumerate(values):
                self.category_table.setItem(row, col, QTableWidgetItem(str(v)))
        removed = [f"{removal_label(k)}: {p.removed[k]}" for k in removal_order(p.removed) if p.removed[k]]
        self.removed_label.setText("Left out — " + "; ".join(removed) if removed else "Nothing left out.")
        self.warnings_label.setText("\n".join(f"⚠ {w}" for w in p.warnings))

    # Built datasets ##########################################################

    def refresh_datasets(self) -> None:
        ops.list_datasets(parent=self).success(self._show_datasets).run_in_background()

    def _show_datasets(self, records: list[DatasetRecord]) -> None:
        selected = self.selected_dataset()
        self.datasets = records
        self.dataset_table.setRowCount(len(records))
        for row, r in enumerate(records):
            s = r.counts.get("splits", {})
            test = "frozen" if r.test_frozen else (
                f"from {r.counts['test_from_name']}" if r.counts.get("test_from_name") else "")
            for col, v in enumerate([r.name, s.get("train", 0), s.get("validation", 0), s.get("test", 0),
                                     test, r.content_hash[:12]]):
                self.dataset_table.setItem(row, col, QTableWidgetItem(str(v)))
            if selected is not None and r.name == selected:
                self.dataset_table.selectRow(row)
        if not self.name_edit.text().strip():
            self.name_edit.setText(self._free_name())
        self._selection_changed()

    def _free_name(self) -> str:
        taken = {r.name for r in self.datasets}
        n = len(taken) + 1
        while f"dataset-{n}" in taken:
            n += 1
        return f"dataset-{n}"

    def selected_dataset(self) -> str | None:
        rows = self.dataset_table.selectionModel().selectedRows() if self.dataset_table.selectionModel() else []
        if not rows:
            return None
        item = self.dataset_table.item(rows[0].row(), 0)
        return item.text() if item else None

    def select_dataset(self, name: str) -> None:
        for row, r in enumerate(self.datasets):
            if r.name == name:
                self.dataset_table.selectRow(row)

    def _selection_changed(self) -> None:
        self.export_button.setEnabled(self.selected_dataset() is not None)

    # Build and export ########################################################

    def build(self) -> None:
        problem = self._rules_problem()
        if problem is not None:
            self.rules_error.setText(problem)
            return
        name = self.name_edit.text().strip()
        self.build_button.setEnabled(False)
        self.status_label.setText(f"Building {name}…")

        def failed(exc: Exception) -> None:
            from desktop.errors import show_exception

            self.build_button.setEnabled(True)
            self.status_label.setText(f"Not built: {exc}")
            show_exception(self, exc)

        ops.build(parent=self, name=name, rules=self.rules()).success(self._built).failure(failed).on_cancel(
            lambda: self._cancelled("Build cancelled; nothing was stored.")
        ).run_in_background(initiator=self)

    def _built(self, result) -> None:
        record: DatasetRecord = result.value
        self.build_button.setEnabled(True)
        s = record.counts.get("splits", {})
        cuts = record.counts.get("context_cuts", {})
        short, dropped = cuts.get("shortened", {}), cuts.get("dropped", {})
        withheld = "".join(
            f" Excluded turns ({reason or 'unknown'}): {short.get(reason, 0)} examples shortened, "
            f"{dropped.get(reason, 0)} dropped."
            for reason in sorted(set(short) | set(dropped))
        )
        if record.counts.get("redacted_examples"):
            withheld += f" {record.counts['redacted_examples']} examples hold a redacted span."
        self.status_label.setText(
            f"Built {record.name}: {s.get('train', 0)} train, {s.get('validation', 0)} validation, "
            f"{s.get('test', 0)} test. Leakage check passed.{withheld}"
        )
        self.name_edit.clear()
        self._pending_select = record.name
        ops.list_datasets(parent=self).success(self._show_built).run_in_background()

    def _show_built(self, records: list[DatasetRecord]) -> None:
        self._show_datasets(records)
        if self._pending_select is not None:
            self.select_dataset(self._pending_select)

    def choose_export_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, "Export dataset to folder")
        return Path(folder) if folder else None

    def export_selected(self) -> None:
        name = self.selected_dataset()
        if name is None:
            return
        folder = self.choose_export_folder()
        if folder is None:
            return
        self.export_button.setEnabled(False)
        self.status_label.setText(f"Exporting {name} to {folder}…")

        def done(result: ExportResult) -> None:
            self.last_export = result
            self._selection_changed()
            self.status_label.setText(f"Exported {name}: {len(result.files)} files in {result.folder}")

        def failed(exc: Exception) -> None:
            from desktop.errors import show_exception

            self._selection_changed()
            self.status_label.setText(f"Not exported: {exc}")
            show_exception(self, exc)

        ops.export(parent=self, name=name, folder=folder).success(done).failure(failed).on_cancel(
            lambda: self._cancelled("Export cancelled; the folder was left as it was.")
        ).run_in_background()

    def _cancelled(self, message: str) -> None:
        """After Cancel: put the buttons back and say what happened."""
        self.status_label.setText(message)
        self.build_button.setEnabled(self._rules_problem() is None)
        self._selection_changed()

    # Broadcasts ##############################################################

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        if changes.decisions or changes.transcripts or changes.turns or changes.datasets:
            self.schedule_preview()
        if changes.datasets and initiator is not self:
            self.refresh_datasets()
