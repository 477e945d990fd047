"""The Tune page: pick a dataset and a base model, Start; follow jobs (live loss curve); Generate.

Jobs are rows in the workspace; the page polls them on a timer (each poll
reads the worker's progress log), so a job started before the app was
closed shows up, with its progress, after a restart. Vertex AI jobs are
followed by the app's one ``VertexFollower`` (network polls off the database
thread, backing off), which the main window starts shortly after start-up
and this page shares, so they too are picked up again when the app opens.
Everything that sends transcript text (Start on Vertex AI, exact token
counts, Generate with Gemini) asks first through the egress dialog. Download…
fetches a Hugging Face base model into the workspace (only its id is sent);
from then on it is used offline like a local folder.
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
    QInputDialog,
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
from core import gemini_connection as gconn
from core.tuning.base import JobRecord
from desktop.egress_dialog import ask_to_send
from desktop.errors import show_exception
from desktop.operations import tuning as ops
from desktop.tuning import vertex_follower

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
        self.follower = vertex_follower.shared(self)
        self.follower.job_changed.connect(self._vertex_job_changed)
        self._preflight_timer = QTimer(self)
        self._preflight_timer.setSingleShot(True)
        self._preflight_timer.setInterval(300)
        self._preflight_timer.timeout.connect(self.refresh_preflight)
        missing = ops.missing_extra()
        if missing:
            self.missing.setText(missing)
            self.missing.show()
            for w in (self.start_button, self.generate_base_button, self.generate_tuned_button,
                      self.download_button):
                w.setEnabled(False)
        self.refresh_datasets()
        self._describe_base()
        self._backend_changed()
        # Vertex jobs left unfinished when the app closed are polled again now.
        QTimer.singleShot(0, self.follower.resume)

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

    # Hidden is not closed: Vertex jobs are followed while the page is in a background tab.
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.follower.parent() is self:
            self.follower.stop()
        self._preflight_timer.stop()
        super().closeEvent(event)

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
        self.base_edit.setToolTip("default: the embedded SmolLM2-135M-Instruct; a PATH to a model folder or "
                                  ".gguf file; or ORG/NAME[@REV] of a model downloaded with Download…")
        self.download_button = QPushButton("Download…")
        self.download_button.setObjectName("tuneDownloadBase")
        self.download_button.setToolTip("Download a Hugging Face model (ORG/NAME[@REV]) into this workspace once; "
                                        "only the model id is sent. Tuning never downloads on its own.")
        self.download_button.clicked.connect(self.download_base)
        self.base_row = QHBoxLayout()
        self.base_row.addWidget(self.base_edit, 1)
        self.base_row.addWidget(self.download_button)
        form.addRow("Base model", self.base_row)
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
        self.form = form
        self._build_vertex_rows(form)
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
        self.egress_log_button = QPushButton("Egress log…")
        self.egress_log_button.setObjectName("egressLogButton")
        self.egress_log_button.setToolTip("Every upload and generation run that sent transcript text off this machine")
        self.egress_log_button.clicked.connect(self.show_egress_log)
        for b in (self.cancel_button, self.resume_button, self.generate_base_button, self.generate_tuned_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.egress_log_button)
        layout.addLayout(buttons)
        layout.addWidget(self._build_gemini_box())
        self._selection_changed()

    def _build_vertex_rows(self, form: QFormLayout) -> None:
        """Vertex AI settings and the preflight, shown when that backend is chosen."""
        self.vertex_base = QComboBox()
        self.vertex_base.setObjectName("vertexBaseModel")
        self.vertex_base.setEditable(True)  # any model id Vertex AI tunes
        self.vertex_base.addItems(list(gconn.BASE_MODELS))
        self.vertex_base.currentTextChanged.connect(self._vertex_base_changed)
        self.adapter_size = QComboBox()
        self.adapter_size.setObjectName("vertexAdapterSize")
        for size in gconn.ADAPTER_SIZES:
            self.adapter_size.addItem(size.removeprefix("ADAPTER_SIZE_").capitalize(), size)
        self.adapter_size.setCurrentIndex(self.adapter_size.findData("ADAPTER_SIZE_FOUR"))
        self.lr_multiplier = QDoubleSpinBox()
        self.lr_multiplier.setObjectName("vertexLrMultiplier")
        self.lr_multiplier.setDecimals(2)
        self.lr_multiplier.setRange(0.01, 10)
        self.lr_multiplier.setSingleStep(0.1)
        self.lr_multiplier.setValue(1.0)
        self.display_name = QLineEdit()
        self.display_name.setObjectName("vertexDisplayName")
        self.display_name.setMaxLength(128)
        self.display_name.setPlaceholderText("attune-DATASET")
        self.price = QDoubleSpinBox()
        self.price.setObjectName("vertexPrice")
        self.price.setDecimals(2)
        self.price.setRange(0, 10_000)
        self.price.setPrefix("$ ")
        self.price.setSuffix(" per million tokens")
        self.price.editingFinished.connect(self._price_edited)
        self.price_date = QLabel()
        self.price_date.setTextFormat(Qt.TextFormat.PlainText)
        price_row = QHBoxLayout()
        price_row.addWidget(self.price)
        price_row.addWidget(self.price_date, 1)
        self.preflight = QLabel()
        self.preflight.setObjectName("vertexPreflight")
        self.preflight.setWordWrap(True)
        self.preflight.setTextFormat(Qt.TextFormat.PlainText)
        self.preflight.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count_button = QPushButton("Count tokens exactly on Vertex AI…")
        self.count_button.setObjectName("vertexCountTokens")
        self.count_button.setToolTip("Sends the training files to count_tokens (asks first); nothing is stored there")
        self.count_button.clicked.connect(self.count_tokens)
        self.exact_tokens: dict[str, int] | None = None  # for the settings they were counted with
        self.vertex_rows: list[QWidget | QHBoxLayout] = []
        for title, field in (("Base model", self.vertex_base), ("Adapter size", self.adapter_size),
                             ("Learning-rate multiplier", self.lr_multiplier), ("Display name", self.display_name),
                             ("Price", price_row), ("Preflight", self.preflight), ("", self.count_button)):
            form.addRow(title, field)
            self.vertex_rows.append(field)
        for signal in (self.dataset_combo.currentTextChanged, self.epochs.valueChanged,
                       self.vertex_base.currentTextChanged):
            signal.connect(self._preflight_later)
        for signal in (self.dataset_combo.currentTextChanged, self.vertex_base.currentTextChanged):
            signal.connect(self._forget_exact)

    def _forget_exact(self) -> None:
        self.exact_tokens = None

    def _build_gemini_box(self) -> QGroupBox:
        box = QGroupBox("Replies from Gemini (sends the test prompts off this machine)")
        form = QFormLayout(box)
        self.gemini_system = QComboBox()
        self.gemini_system.setObjectName("geminiSystem")
        self.gemini_system.setEditable(True)  # gemini:ANY-MODEL
        self.gemini_system.addItems([f"gemini:{m}" for m in gconn.BASE_MODELS])
        self.gemini_system.setToolTip("gemini:MODEL for a base model, vertex:JOB for a succeeded Vertex AI job")
        form.addRow("System", self.gemini_system)
        self.concurrency = QSpinBox()
        self.concurrency.setObjectName("geminiConcurrency")
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(8)
        form.addRow("Requests at once", self.concurrency)
        self.temperature = QDoubleSpinBox()
        self.temperature.setObjectName("geminiTemperature")
        self.temperature.setRange(0, 2)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.0)
        form.addRow("Temperature", self.temperature)
        self.max_output_tokens = QSpinBox()
        self.max_output_tokens.setObjectName("geminiMaxOutputTokens")
        self.max_output_tokens.setRange(1, 65_536)
        self.max_output_tokens.setValue(1024)
        form.addRow("Max output tokens", self.max_output_tokens)
        self.generate_gemini_button = QPushButton("Generate replies with Gemini…")
        self.generate_gemini_button.setObjectName("generateGemini")
        self.generate_gemini_button.clicked.connect(lambda: self.generate_gemini(self.gemini_system.currentText()))
        form.addRow(self.generate_gemini_button)
        self.gemini_result = QLabel()
        self.gemini_result.setObjectName("geminiResult")
        self.gemini_result.setWordWrap(True)
        self.gemini_result.setTextFormat(Qt.TextFormat.PlainText)
        form.addRow(self.gemini_result)
        return box

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
            if job.backend == "vertex":
                state = job.state + (" (check failed)" if job.id in self.follower.errors else "")
                cells = [job.id, job.settings.get("dataset", ""), job.base_model, state, "", "", "", "", ""]
            else:
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
        self._offer_tuned_systems(jobs)
        self._selection_changed()

    def _offer_tuned_systems(self, jobs: list[JobRecord]) -> None:
        """Succeeded Vertex jobs join the Gemini system list as vertex:JOB."""
        for job in jobs:
            spec = f"vertex:{job.id}"
            if job.backend == "vertex" and job.state == "succeeded" and self.gemini_system.findText(spec) < 0:
                self.gemini_system.addItem(spec)

    def _vertex_job_changed(self, job: JobRecord) -> None:
        for i, known in enumerate(self.jobs):
            if known.id == job.id:
                self.jobs[i] = job
                self._show_jobs(list(self.jobs))
                return
        self.refresh_jobs()

    def selected_job(self) -> JobRecord | None:
        rows = {i.row() for i in self.table.selectedItems()}
        return self.jobs[min(rows)] if rows and min(rows) < len(self.jobs) else None

    def _selection_changed(self) -> None:
        job = self.selected_job()
        self.curve.set_job(job)
        running = job is not None and (job.state == "running" or (job.backend == "vertex" and not job.finished))
        self.cancel_button.setEnabled(running)
        self.resume_button.setEnabled(job is not None and job.backend == "local" and job.state in ("failed", "cancelled"))
        self.generate_tuned_button.setEnabled(job is not None and job.state == "succeeded" and (
            job.backend == "vertex" or self.missing.isHidden()))
        if job is None:
            self.detail.setText("")
            return
        if job.backend == "vertex":
            self.detail.setText("\n".join(self.vertex_job_lines(job)))
            return
        text = f"Job {job.id}: {job.state}"
        if job.error:
            text += f" — {job.error}"
        if job.system_name:
            text += f" — adapter {job.output} (system {job.system_name})"
        self.detail.setText(text)

    def vertex_job_lines(self, job: JobRecord) -> list[str]:
        """State, times, the job's data statistics, errors and the tuned endpoint of a Vertex AI job."""
        m = job.metrics
        lines = [f"Job {job.id} on Vertex AI ({job.base_model}): {job.state}"
                 + (f" [{m['remote_state']}]" if m.get("remote_state") else ""),
                 f"remote job: {job.remote_name or '(not created)'}"]
        for key in ("create_time", "start_time", "end_time"):
            if key in m:
                lines.append(f"{key.replace('_', ' ')}: {m[key]}")
        for k, v in (m.get("data_stats") or {}).items():
            if not isinstance(v, (dict, list)):
                lines.append(f"{k.replace('_', ' ')}: {v}")
        if job.error:
            lines.append(f"error: {job.error}")
        if job.system_name:
            lines.append(f"tuned endpoint: {job.output} (system {job.system_name}; Generate tuned replies asks it)")
        if job.id in self.follower.errors:
            lines.append(self.follower.errors[job.id])
        elif not job.finished:
            wait = self.follower.next_poll_in(job.id)
            if wait is not None:
                lines.append(f"next check in {wait:.0f} s")
        return lines

    def backend(self) -> str:
        return self.backend_combo.currentData() or "local"

    def _backend_changed(self) -> None:
        local = self.backend() == "local"
        for field in (self.base_row, self.base_info, self.learning_rate):
            self.form.setRowVisible(field, local)
        for field in self.vertex_rows:
            self.form.setRowVisible(field, not local)
        self.start_button.setEnabled(not (local and not self.missing.isHidden()))
        if not local:
            self._vertex_base_changed()

    def vertex_settings(self) -> dict:
        """The Vertex AI fields as ``core.tuning.vertex.TuneSettings`` keywords (checked there)."""
        return {"base_model": self.vertex_base.currentText().strip(), "epochs": self.epochs.value() or 3,
                "adapter_size": self.adapter_size.currentData(),
                "learning_rate_multiplier": self.lr_multiplier.value(),
                "display_name": self.display_name.text().strip()}

    def _vertex_base_changed(self) -> None:
        model = self.vertex_base.currentText().strip()
        if self.backend() != "vertex" or not model:
            return

        def show(found: tuple[float, str]) -> None:
            self._loaded_price = found[0]
            self.price.setValue(found[0])
            self.price_date.setText(f"listed {found[1]}")
            self._preflight_later()

        ops.vertex_price(parent=self, base_model=model).success(show).run_in_background()

    def _price_edited(self) -> None:
        model = self.vertex_base.currentText().strip()
        if model and self.price.value() != getattr(self, "_loaded_price", None):
            ops.set_vertex_price(parent=self, base_model=model, usd_per_million=self.price.value()).success(
                lambda _r: self._vertex_base_changed()).run_in_background(initiator=self)

    def _preflight_later(self) -> None:
        if self.backend() == "vertex":
            self._preflight_timer.start()

    def refresh_preflight(self) -> None:
        """Examples per split, tokens, over-limit examples, cost and warnings, before Start (offline)."""
        dataset = self.dataset_combo.currentText()
        if self.backend() != "vertex" or not dataset:
            self.preflight.setText("")
            return

        def show(found) -> None:
            report, counts = found
            lines = report.lines() + ["identifier scan: " + ", ".join(f"{k} {n}" for k, n in counts.items())]
            self.preflight.setText("\n".join(lines))

        ops.preflight_vertex(parent=self, dataset=dataset, settings=self.vertex_settings(),
                             exact=self.exact_tokens).success(show).failure(
            lambda exc: self.preflight.setText(f"Preflight: {exc}")).run_in_background()

    def count_tokens(self) -> None:
        """Exact token counts for the preflight: the training text goes to Vertex AI, so ask first."""
        dataset = self.dataset_combo.currentText()
        if not dataset:
            show_exception(self, ValueError("build a dataset first (Dataset tab)"))
            return
        self.count_button.setEnabled(False)

        def planned(plan) -> None:
            if plan is None:
                self.count_button.setEnabled(True)
                self.preflight.setText("Not connected to Google Cloud: set the project and bucket in Connection….")
                return
            conn, _settings, manifest = plan
            try:
                approval = egress.confirm(manifest, ask=lambda m: ask_to_send(m, self), via="dialog")
            except egress.EgressRefused:
                self.count_button.setEnabled(True)
                return

            def counted(saved) -> None:
                self.exact_tokens = saved.value
                self.refresh_preflight()

            ops.count_tokens_vertex(parent=self, approval=approval, conn=conn).success(counted).finally_(
                lambda: self.count_button.setEnabled(True)).run_in_background(initiator=self)

        ops.plan_vertex(parent=self, dataset=dataset, settings=self.vertex_settings()).success(planned).failure(
            lambda exc: (self.count_button.setEnabled(True), show_exception(self, exc))).run_in_background()

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        if changes.datasets:
            self.refresh_datasets()
            self._preflight_later()
        if changes.settings and initiator is not self:
            self.follower.resume()  # the connection may have changed

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
                lambda _job: (self.refresh_jobs(), self.follower.resume())).finally_(
                lambda: self.start_button.setEnabled(True)).run_in_background(initiator=self)

        ops.plan_vertex(parent=self, dataset=dataset, settings=self.vertex_settings()).success(planned).failure(
            lambda exc: (self.start_button.setEnabled(True), show_exception(self, exc))).run_in_background()

    def download_base(self) -> None:
        """Download a hub model into the workspace: the id typed in the base field, else asked for."""
        typed = self.base_edit.text().strip()
        if ops.is_hub_id(typed):
            self._download(typed)
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("hubIdDialog")
        dialog.setWindowTitle("Download a base model")
        dialog.setLabelText("Hugging Face model id, ORG/NAME or ORG/NAME@REVISION\n"
                            "(only the id is sent; the files go into this workspace):")
        dialog.textValueSelected.connect(lambda text: self._download(text.strip()))
        dialog.open()

    def _download(self, spec: str) -> None:
        if not spec:
            return
        self.download_button.setEnabled(False)

        def done(got: str) -> None:
            self.base_edit.setText(got)
            self._describe_base()

        def cancelled() -> None:
            self.base_info.setText(f"{spec}: download cancelled; nothing was kept.")

        ops.download_base(parent=self, spec=spec).success(done).on_cancel(cancelled).finally_(
            lambda: self.download_button.setEnabled(self.missing.isHidden())).run_in_background(initiator=self)

    def edit_connection(self) -> None:
        from desktop.connection_dialog import ConnectionDialog

        dialog = ConnectionDialog(self)
        dialog.accepted.connect(self.follower.resume)
        dialog.open()

    def show_egress_log(self) -> None:
        from desktop.egress_log_dialog import open_egress_log

        open_egress_log(self)

    def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is None:
            return
        if job.backend != "vertex":
            ops.cancel_job(parent=self, job=job).success(lambda _j: self.refresh_jobs()).run_in_background()
            return
        self.cancel_button.setEnabled(False)

        def cancelled(saved) -> None:
            done = saved.value if hasattr(saved, "value") else saved  # then_save's OpChangesWith, or the row
            self.follower.saw(done)
            self._vertex_job_changed(done)

        def cancel(conn) -> None:
            ops.cancel_vertex(parent=self, conn=conn, job=job).success(cancelled).finally_(
                self._selection_changed).run_in_background(initiator=self)

        ops.load_connection(parent=self).success(cancel).failure(
            lambda exc: (self._selection_changed(), show_exception(self, exc))).run_in_background()

    def resume_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            ops.resume_job(parent=self, job=job).success(lambda _j: self.refresh_jobs()).run_in_background()

    def generate_tuned(self) -> None:
        job = self.selected_job()
        if job is not None and job.system_name:
            if job.backend == "vertex":
                self.generate_gemini(f"vertex:{job.id}", dataset=job.settings.get("dataset"))
            else:
                self.generate(f"local:{job.id}", dataset=job.settings.get("dataset"))

    def generate_gemini(self, spec: str, dataset: str | None = None) -> None:
        """Replies from Gemini (gemini:MODEL) or a tuned Vertex endpoint (vertex:JOB), after the
        egress dialog; outcomes are counted, and a rerun only asks for what is missing."""
        dataset = dataset or self.dataset_combo.currentText()
        if not dataset:
            show_exception(self, ValueError("build a dataset first (Dataset tab)"))
            return
        self.generate_gemini_button.setEnabled(False)
        self.gemini_result.setText(f"{spec}: preparing the prompts…")

        def planned(plan) -> None:
            conn, target, manifest = plan
            if not manifest.payloads:
                self.generate_gemini_button.setEnabled(True)
                self.gemini_result.setText(f"{target.system}: every test item of {dataset!r} already has a "
                                           "reply or an outcome; nothing to send.")
                return
            try:
                approval = egress.confirm(manifest, ask=lambda m: ask_to_send(m, self), via="dialog")
            except egress.EgressRefused:
                self.generate_gemini_button.setEnabled(True)
                self.gemini_result.setText(f"{manifest.what}: not sent.")
                return
            settings = {"concurrency": self.concurrency.value(), "temperature": self.temperature.value(),
                        "max_output_tokens": self.max_output_tokens.value()}  # thinking off, seed 0: as tuned
            ops.generate_gemini(parent=self, approval=approval, conn=conn, target=target,
                                settings=settings).success(
                lambda saved: self._generated(target.system, saved.value)).on_cancel(
                lambda: self.gemini_result.setText(f"{target.system}: cancelled; the replies that came back "
                                                   "are kept (run again to fill the gaps).")).finally_(
                lambda: self.generate_gemini_button.setEnabled(True)).run_in_background(initiator=self)

        def failed(exc: Exception) -> None:
            self.generate_gemini_button.setEnabled(True)
            self.gemini_result.setText("")
            show_exception(self, exc)

        ops.plan_gemini(parent=self, dataset=dataset, spec=spec).success(planned).failure(failed) \
            .run_in_background()

    def _generated(self, system: str, result) -> None:
        counts = ", ".join(f"{k.replace('_', ' ')} {result.outcomes.get(k, 0)}" for k in ops.gemini_outcomes())
        text = (f"{system}: {result.sent} sent ({counts}); {result.skipped} already done; "
                f"{result.retries} retries")
        if result.cancelled:
            text += "; cancelled (what came back is kept: run again to fill the gaps)"
        if result.outcomes.get("error"):
            text += "; items that failed are tried again by the next run"
        self.gemini_result.setText(text)

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
