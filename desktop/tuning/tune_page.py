"""The Tune page: pick a dataset and a base model, Start; follow jobs (live loss curve); Generate.

Jobs are rows in the workspace; the page polls them on a timer (each poll
reads the worker's progress log), so a job started before the app was
closed shows up, with its progress, after a restart.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import egress
from core.changes import OpChanges
from core.tuning.base import JobRecord
from desktop.egress_dialog import ask_to_send
from desktop.errors import show_exception
from desktop.operations import tuning as ops

POLL_MS = 2000
COLUMNS = ["Job", "Dataset", "Base", "State", "Step", "Loss", "Val. loss", "Tokens/s", "ETA"]


class LossCurve(QWidget):
    """Training loss per step (line) and validation loss per epoch (dots)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossCurve")
        self.setMinimumHeight(120)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []

    def set_job(self, job: JobRecord | None) -> None:
        m = job.metrics if job else {}
        self.train = [(float(s), float(v)) for s, v in m.get("curve", [])]
        per_epoch = m.get("steps_per_epoch") or 1
        self.val = [(float(e) * per_epoch, float(v)) for e, v in m.get("val_loss", []) if v is not None]
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        points = self.train + self.val
        if not points:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        xs, ys = [x for x, _ in points], [y for _, y in points]
        x0, x1, y0, y1 = min(xs), max(xs) or 1, min(ys), max(ys)
        w, h, pad = self.width(), self.height(), 8

        def at(x: float, y: float) -> QPointF:
            fx = (x - x0) / ((x1 - x0) or 1)
            fy = (y - y0) / ((y1 - y0) or 1)
            return QPointF(pad + fx * (w - 2 * pad), h - pad - fy * (h - 2 * pad))

        p.setPen(QPen(self.palette().text().color(), 1.5))
        for a, b in zip(self.train, self.train[1:]):
            p.drawLine(at(*a), at(*b))
        p.setPen(QPen(self.palette().highlight().color(), 6))
        for v in self.val:
            p.drawPoint(at(*v))
        p.end()


class TunePage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tunePage")
        self.jobs: list[JobRecord] = []
        self._polling = False
        self._build_ui()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.refresh_jobs)
        missing = ops.missing_extra()
        if missing:
            self.missing.setText(missing)
            self.missing.show()
            for w in (self.start_button, self.generate_base_button, self.generate_tuned_button):
                w.setEnabled(False)
        self.refresh_datasets()
        self._describe_base()

    def _describe_base(self) -> None:
        """Size, licence and whether it fits this machine's memory (stat calls only, no loading)."""
        text = ops.describe_base(self.base_edit.text().strip() or "default")
        self.base_info.setText(text)

    # Poll only while the page is on screen: a job's row catches up on the next show.
    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh_jobs()
        self._timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._timer.stop()
        super().hideEvent(event)

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        self.missing = QLabel()
        self.missing.setObjectName("tuneMissingExtra")
        self.missing.setWordWrap(True)
        self.missing.hide()
        layout.addWidget(self.missing)

        box = QGroupBox("New tuning job")
        form = QFormLayout(box)
        self.backend_combo = QComboBox()
        self.backend_combo.setObjectName("tuneBackend")
        self.backend_combo.addItem("Local (LoRA on this machine)", "local")
        self.backend_combo.addItem("Gemini on Vertex AI (uploads the dataset)", "vertex")
        self.backend_combo.currentIndexChanged.connect(self._backend_changed)
        self.connection_button = QPushButton("Connection…")
        self.connection_button.setObjectName("tuneConnection")
        self.connection_button.clicked.connect(self.edit_connection)
        row = QHBoxLayout()
        row.addWidget(self.backend_combo, 1)
        row.addWidget(self.connection_button)
        form.addRow("Backend", row)
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("tuneDataset")
        form.addRow("Dataset", self.dataset_combo)
        self.base_edit = QLineEdit("default")
        self.base_edit.setObjectName("tuneBase")
        self.base_edit.setToolTip("default: the embedded SmolLM2-135M-Instruct; or a model folder or .gguf file")
        form.addRow("Base model", self.base_edit)
        self.base_info = QLabel()
        self.base_info.setObjectName("tuneBaseInfo")
        self.base_info.setWordWrap(True)
        form.addRow("", self.base_info)
        self.base_edit.editingFinished.connect(self._describe_base)
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 100)
        self.epochs.setSpecialValueText("default")
        self.epochs.setObjectName("tuneEpochs")
        form.addRow("Epochs", self.epochs)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0, 1)
        self.learning_rate.setSingleStep(0.0001)
        self.learning_rate.setSpecialValueText("default")
        form.addRow("Learning rate", self.learning_rate)
        self.start_button = QPushButton("Start tuning")
        self.start_button.setObjectName("tuneStart")
        self.start_button.clicked.connect(self.start)
        form.addRow(self.start_button)
        layout.addWidget(box)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("tuneJobs")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table, 1)
        self.curve = LossCurve()
        layout.addWidget(self.curve)
        self.detail = QLabel()
        self.detail.setObjectName("tuneDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.detail)

        buttons = QHBoxLayout()
        self.cancel_button = QPushButton("Cancel job")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.resume_button = QPushButton("Resume job")
        self.resume_button.clicked.connect(self.resume_selected)
        self.generate_base_button = QPushButton("Generate base replies")
        self.generate_base_button.setObjectName("generateBase")
        self.generate_base_button.clicked.connect(lambda: self.generate("base:local"))
        self.generate_tuned_button = QPushButton("Generate tuned replies")
        self.generate_tuned_button.setObjectName("generateTuned")
        self.generate_tuned_button.clicked.connect(self.generate_tuned)
        for b in (self.cancel_button, self.resume_button, self.generate_base_button, self.generate_tuned_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self._selection_changed()

    # Data #####################################################################

    def refresh_datasets(self) -> None:
        def show(datasets) -> None:
            current = self.dataset_combo.currentText()
            self.dataset_combo.clear()
            self.dataset_combo.addItems([d.name for d in datasets])
            if current:
                self.dataset_combo.setCurrentText(current)

        ops.list_datasets(parent=self).success(show).run_in_background()

    def refresh_jobs(self) -> None:
        if self._polling:
            return
        self._polling = True

        def done() -> None:
            self._polling = False

        ops.poll_jobs(parent=self).success(self._show_jobs).failure(lambda exc: None).finally_(done) \
            .run_in_background(initiator=self)

    def _show_jobs(self, jobs: list[JobRecord]) -> None:
        selected = self.selected_job()
        self.jobs = jobs
        self.table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            m = job.metrics
            val = m.get("val_loss") or []
            cells = [job.id, job.settings.get("dataset", ""), job.base_model, job.state,
                     f"{m.get('step', 0)}/{m.get('total_steps', '?')}", m.get("loss", ""),
                     val[-1][1] if val else "", m.get("tokens_per_s", ""),
                     f"{int(m['eta_s'])} s" if m.get("eta_s") and job.state == "running" else ""]
            for col, value in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem("" if value is None else str(value)))
        if selected is not None:
            for row, job in enumerate(jobs):
                if job.id == selected.id:
                    self.table.selectRow(row)
        elif jobs and not self.table.selectedItems():
            self.table.selectRow(0)
        self._selection_changed()

    def selected_job(self) -> JobRecord | None:
        rows = {i.row() for i in self.table.selectedItems()}
        return self.jobs[min(rows)] if rows and min(rows) < len(self.jobs) else None

    def _selection_changed(self) -> None:
        job = self.selected_job()
        self.curve.set_job(job)
        running = job is not None and job.state == "running"
        self.cancel_button.setEnabled(running)
        self.resume_button.setEnabled(job is not None and job.backend == "local" and job.state in ("failed", "cancelled"))
        self.generate_tuned_button.setEnabled(job is not None and job.state == "succeeded" and not self.missing.isVisible())
        if job is None:
            self.detail.setText("")
            return
        text = f"Job {job.id}: {job.state}"
        if job.error:
            text += f" — {job.error}"
        if job.system_name:
            text += f" — adapter {job.output} (system {job.system_name})"
        self.detail.setText(text)

    def backend(self) -> str:
        return self.backend_combo.currentData() or "local"

    def _backend_changed(self) -> None:
        local = self.backend() == "local"
        self.base_edit.setEnabled(local)
        self.learning_rate.setEnabled(local)
        self.start_button.setEnabled(not (local and self.missing.isVisible()))

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        if changes.datasets:
            self.refresh_datasets()

    # Actions ##################################################################

    def start(self) -> None:
        dataset = self.dataset_combo.currentText()
        if not dataset:
            show_exception(self, ValueError("build a dataset first (Dataset tab)"))
            return
        if self.backend() == "vertex":
            self.start_vertex(dataset)
            return
        settings: dict = {"base": self.base_edit.text().strip() or "default"}
        if self.epochs.value():
            settings["epochs"] = self.epochs.value()
        if self.learning_rate.value():
            settings["learning_rate"] = self.learning_rate.value()
        ops.start_job(parent=self, dataset=dataset, settings=settings).success(
            lambda _job: self.refresh_jobs()).run_in_background(initiator=self)

    def start_vertex(self, dataset: str) -> None:
        """Build the manifest (off the GUI thread), ask, and only on Send upload and start the job."""
        self.start_button.setEnabled(False)

        def planned(plan) -> None:
            if plan is None:
                self.start_button.setEnabled(True)
                self.detail.setText("Not connected to Google Cloud: run `attune connect --project P --bucket B` first.")
                return
            conn, settings, manifest = plan
            try:
                approval = egress.confirm(manifest, ask=lambda m: ask_to_send(m, self), via="dialog")
            except egress.EgressRefused:
                self.start_button.setEnabled(True)
                self.detail.setText(f"{manifest.what}: not sent.")
                return
            ops.start_vertex(parent=self, approval=approval, conn=conn, settings=settings).success(
                lambda _job: self.refresh_jobs()).finally_(lambda: self.start_button.setEnabled(True)) \
                .run_in_background(initiator=self)

        ops.plan_vertex(parent=self, dataset=dataset, epochs=self.epochs.value()).success(planned).failure(
            lambda exc: (self.start_button.setEnabled(True), show_exception(self, exc))).run_in_background()

    def edit_connection(self) -> None:
        from desktop.connection_dialog import ConnectionDialog

        ConnectionDialog(self).open()

    def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            ops.cancel_job(parent=self, job=job).success(lambda _j: self.refresh_jobs()).run_in_background()

    def resume_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            ops.resume_job(parent=self, job=job).success(lambda _j: self.refresh_jobs()).run_in_background()

    def generate_tuned(self) -> None:
        job = self.selected_job()
        if job is not None and job.system_name:
            self.generate(f"local:{job.id}", dataset=job.settings.get("dataset"))

    def generate(self, spec: str, dataset: str | None = None) -> None:
        dataset = dataset or self.dataset_combo.currentText()
        if not dataset:
            show_exception(self, ValueError("build a dataset first (Dataset tab)"))
            return
        base = self.base_edit.text().strip() or "default"
        ops.generate(parent=self, dataset=dataset, spec=spec, base=base).success(
            lambda saved: self.detail.setText(
                f"{spec}: {saved.value[0]} replies generated, {saved.value[1]} already stored")
        ).run_in_background(initiator=self)
