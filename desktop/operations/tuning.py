"""One small function per Tune-page action (issue 14); the page calls only these.

Tuning itself runs in its own process (``core.tuning.worker``): starting,
polling, cancelling and resuming a job are quick store ops. Generation loads a
model and runs for minutes, so it runs without the store (the work pool), on
its own connection to the workspace, saving each batch as it arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from core import models_hub, models_local
from core.changes import OpChanges, OpChangesWith
from core.datasets import catalog
from core.models import DatasetRecord
from core.progress import TaskState
from core.store import Store, open_store
from core.tuning.base import JobRecord
from core.tuning import base as tuning
from desktop.operations import CollectionOp, QueryOp, taskman


def list_datasets(*, parent: QWidget | None) -> QueryOp[list[DatasetRecord]]:
    return QueryOp(parent, catalog.list_datasets)


def start_job(*, parent: QWidget | None, dataset: str, settings: dict) -> CollectionOp[JobRecord]:
    """A local job; a downloaded hub id is recorded as its cached folder (as ``attune tune start``
    does), so the job resolves again without the workspace and never downloads."""

    def op(store: Store) -> JobRecord:
        local = {**settings, "base": models_local.local_spec(settings.get("base"), store.path.parent)}
        return tuning.get_backend("local").start(store, dataset, local)

    return CollectionOp(parent, op)


def plan_vertex(*, parent: QWidget | None, dataset: str, settings: dict[str, Any]):
    """What tuning on Vertex AI would upload (an egress manifest), built from the store off the GUI
    thread; ``None`` when no connection is configured (``attune connect``)."""

    def op(store: Store):
        from core import gemini_connection as gconn
        from core.tuning import vertex

        conn = gconn.load(store)
        if not (conn.project and conn.bucket):
            return None
        tune = vertex.TuneSettings(**settings).check()
        return conn, tune, vertex.plan(store, dataset, conn, tune)

    return QueryOp(parent, op)


def preflight_vertex(*, parent: QWidget | None, dataset: str, settings: dict[str, Any],
                     exact: dict[str, int] | None = None):
    """``attune tune preflight --backend vertex``: examples per split, tokens (``exact`` from
    ``count_tokens``, else the offline estimate), over-limit examples, cost and warnings, with the
    identifier counts. Sends nothing."""

    def op(store: Store):
        from core import egress
        from core import gemini_connection as gconn
        from core.tuning import vertex

        tune = vertex.TuneSettings(**settings).check()
        conn = gconn.load(store)
        where = (vertex.destination(conn, tune.base_model) if conn.project and conn.bucket
                 else egress.Destination("vertex", model=tune.base_model))
        manifest = egress.upload_manifest(store, dataset, where)
        return vertex.preflight(store, manifest, tune, exact), manifest.counts()

    return QueryOp(parent, op)


def count_tokens_vertex(*, parent: QWidget | None, approval, conn) -> QueryOp[dict[str, int]]:
    """Exact token counts of the approved training files from Vertex AI (sends the text: the
    caller has the user's approval; each file is logged), on the op's own connection."""
    workspace = taskman().workspace

    def op(state: TaskState) -> dict[str, int]:
        from core.tuning import vertex

        with open_store(workspace, create=False, check=False) as store:
            return vertex.count_tokens(store, approval, conn)

    return (QueryOp(parent, op).without_store().with_progress("Counting tokens on Vertex AI…")
            .then_save(lambda _store, counts: OpChangesWith(OpChanges(), counts)))


def vertex_price(*, parent: QWidget | None, base_model: str) -> QueryOp[tuple[float, str]]:
    """The price per million training tokens the cost estimate uses, and its date."""

    def op(store: Store) -> tuple[float, str]:
        from core.tuning import vertex

        return vertex.price(store, base_model)

    return QueryOp(parent, op)


def set_vertex_price(*, parent: QWidget | None, base_model: str, usd_per_million: float) -> CollectionOp:
    """Keep an edited price in the workspace (as ``attune tune preflight --price`` does)."""

    def op(store: Store) -> OpChangesWith:
        from core.clock import now_iso
        from core.tuning import vertex

        vertex.set_price(store, base_model, usd_per_million, f"{now_iso()[:10]} (set by the user)")
        return OpChangesWith(OpChanges(), usd_per_million)

    return CollectionOp(parent, op)


def start_vertex(*, parent: QWidget | None, approval, conn, settings) -> QueryOp[JobRecord]:
    """Upload the approved files and create the Vertex job (network work: without the store,
    on its own connection to the workspace, as ``attune tune start`` does)."""
    workspace = taskman().workspace

    def op(state: TaskState) -> JobRecord:
        from core.tuning import vertex

        with open_store(workspace, create=False, check=False) as store:
            return vertex.start(store, approval, conn, settings)

    return (QueryOp(parent, op).without_store().with_progress("Uploading to Vertex AI…")
            .then_save(lambda _store, job: OpChangesWith(OpChanges(), job)))


def vertex_jobs_to_follow(*, parent: QWidget | None):
    """The connection and every unfinished Vertex AI job (polled again when the app starts)."""

    def op(store: Store):
        from core import gemini_connection as gconn

        return gconn.load(store), [j for j in tuning.list_jobs(store, backend="vertex") if not j.finished]

    return QueryOp(parent, op)


def poll_vertex(*, parent: QWidget | None, conn, job: JobRecord) -> QueryOp[JobRecord]:
    """Ask Vertex AI how the job is doing (without the store), then store the answer; a succeeded
    job's endpoint becomes a system."""

    def op(state: TaskState):
        from core.tuning import vertex

        return vertex.fetch(conn, job)

    def save(store: Store, remote) -> OpChangesWith[JobRecord]:
        from core.tuning import vertex

        done = vertex.save_remote(store, job.id, remote)
        return OpChangesWith(OpChanges(responses=done.system_name is not None and not job.system_name), done)

    return QueryOp(parent, op).without_store().then_save(save)


def poll_failure_is_transient(exc: BaseException) -> bool:
    from core.tuning import vertex

    return vertex.transient(exc)


def describe_poll_failure(exc: BaseException) -> str:
    from core.tuning import vertex

    return vertex.describe_error(exc)


def next_poll_delay(delay: float, changed: bool, *, first: float, most: float) -> float:
    from core.tuning import vertex

    return vertex.next_delay(delay, changed, first=first, most=most)


def poll_jobs(*, parent: QWidget | None) -> CollectionOp[list[JobRecord]]:
    """Every job, the unfinished local ones brought up to date from their worker's files."""

    def op(store: Store) -> list[JobRecord]:
        backend = tuning.get_backend("local")
        return [backend.poll(store, j) if j.backend == "local" else j for j in tuning.list_jobs(store)]

    return CollectionOp(parent, op)


def cancel_job(*, parent: QWidget | None, job: JobRecord) -> CollectionOp[JobRecord]:
    """A local job: signal its worker process (quick, on the database thread)."""
    return CollectionOp(parent, lambda store: tuning.get_backend(job.backend).cancel(store, job))


def cancel_vertex(*, parent: QWidget | None, conn, job: JobRecord) -> QueryOp[JobRecord] | CollectionOp[JobRecord]:
    """Ask Vertex AI to cancel (over the network: never on the database thread), then store
    the state it reports."""
    if not job.remote_name:  # never created remotely: nothing to ask
        return cancel_job(parent=parent, job=job)

    def op(state: TaskState):
        from core.tuning import vertex

        return vertex.request_cancel(conn, job)

    def save(store: Store, remote) -> OpChangesWith[JobRecord]:
        from core.tuning import vertex

        return OpChangesWith(OpChanges(), vertex.save_remote(store, job.id, remote))

    return (QueryOp(parent, op).without_store().with_progress("Cancelling the job on Vertex AI…")
            .then_save(save))


def resume_job(*, parent: QWidget | None, job: JobRecord) -> CollectionOp[JobRecord]:
    def op(store: Store) -> JobRecord:
        backend = tuning.get_backend(job.backend)
        return backend.resume(store, backend.poll(store, tuning.get_job(store, job.id)))

    return CollectionOp(parent, op)


def generate(*, parent: QWidget | None, dataset: str, spec: str, base: str = "default",
             name: str | None = None, limit: int | None = None) -> QueryOp[tuple[int, int]]:
    """Replies for the dataset's test items from ``base:local`` or ``local:RUN``."""
    workspace = taskman().workspace

    def op(state: TaskState) -> tuple[int, int]:
        from core.generation.base import GenerationSettings, generate_for_dataset
        from core.generation.local import LocalGenerator, resolve_target

        settings = GenerationSettings()  # the local defaults, as `attune generate` uses them
        # base:local only (local:RUN uses its job's base): a downloaded hub id → its folder.
        local_base = models_local.local_spec(base, workspace) if spec.startswith("base:") else base
        with open_store(workspace, create=False, check=False) as store:
            system, kind, model, adapter, base_hash = resolve_target(store, spec, base=local_base, name=name)
            state.update(0, 0, f"Loading {model.label}…")
            generator = LocalGenerator(model, settings, adapter=adapter, base_hash=base_hash)
            return generate_for_dataset(store, dataset, system, kind, generator, settings, limit=limit, state=state)

    return (QueryOp(parent, op).without_store().with_progress(f"Generating replies ({spec})…")
            .then_save(lambda _store, done: OpChangesWith(OpChanges(responses=True), done)))


def plan_gemini(*, parent: QWidget | None, dataset: str, spec: str):
    """What ``attune generate DATASET --system gemini:M|vertex:JOB`` would send: (conn, target,
    manifest), the manifest holding only the test items this system has no reply to yet."""

    def op(store: Store):
        from core import gemini_connection as gconn
        from core.generation import gemini

        conn = gconn.load(store)
        target = gemini.target_for(store, spec)
        return conn, target, gemini.plan(store, dataset, target, conn)

    return QueryOp(parent, op)


def generate_gemini(*, parent: QWidget | None, approval, conn, target, settings: dict[str, Any] | None = None):
    """Send the approved prompts; each reply (or outcome: blocked, safety stop, empty, error) is
    stored as it arrives on the run's own connection to the workspace, so Cancel keeps what came
    back and a rerun only fills the gaps. ``settings``: ``core.generation.gemini.Settings`` keywords
    (temperature, max_output_tokens, concurrency…), recorded with every reply."""
    workspace = taskman().workspace

    def op(state: TaskState):
        from core.generation import gemini

        with open_store(workspace, create=False, check=False) as store:
            return gemini.run(store, approval, conn, target, gemini.Settings(**(settings or {})), state=state)

    return (QueryOp(parent, op).without_store().with_progress(f"Generating replies ({target.system})…")
            .then_save(lambda _store, result: OpChangesWith(OpChanges(responses=True), result)))


def gemini_outcomes() -> tuple[str, ...]:
    from core.generation import gemini

    return gemini.OUTCOMES


def missing_extra() -> str | None:
    return models_local.missing_extra()


def is_hub_id(spec: str) -> bool:
    """Whether ``spec`` reads as ``ORG/NAME[@REV]`` (and names no existing file or folder)."""
    return models_hub.parse_id(spec) is not None and not Path(spec).expanduser().exists()


def describe_base(spec: str) -> str:
    """One line about a base model for the picker (a downloaded hub id included); the reason when
    it cannot be used."""
    from core.errors import AttuneError, NotFoundError

    try:
        model = models_local.resolve(spec, taskman().workspace)
    except NotFoundError as exc:
        if is_hub_id(spec):
            return f"{spec}: not downloaded into this workspace yet; Download… fetches it (sends only the id)"
        return str(exc)
    except AttuneError as exc:
        return str(exc)
    fits = models_local.fits_memory(model)
    verdict = {True: "fits this machine's memory", False: "may not fit this machine's memory",
               None: "memory unknown"}[fits]
    return f"{model.label}: {model.size_bytes / 1e6:.0f} MB on disk, licence {model.licence}, {verdict}"


class _KiB(TaskState):
    """The download's byte counts in KiB for the progress bar (a C int: weights pass 2 GiB), with
    MB in the label; Cancel is the outer state's."""

    def __init__(self, outer: TaskState) -> None:
        super().__init__()
        self.outer = outer

    def update(self, done: int, total: int, label: str = "") -> None:
        if total:
            label = f"{label} ({done / 1e6:,.0f} of {total / 1e6:,.0f} MB)"
        self.outer.update(done >> 10, total >> 10, label)

    def cancel(self) -> None:
        self.outer.cancel()

    @property
    def cancelled(self) -> bool:
        return self.outer.cancelled

    def check_cancelled(self) -> None:
        self.outer.check_cancelled()


def download_base(*, parent: QWidget | None, spec: str) -> QueryOp[str]:
    """``attune models --download ORG/NAME[@REV]`` from the page: network and disk only, never the
    store, so it runs on the pool; Cancel stops within a chunk and leaves nothing behind. Returns
    the id, now resolvable offline. HF_HUB_OFFLINE in this process refuses it (one line)."""
    workspace = taskman().workspace

    def op(state: TaskState) -> str:
        models_hub.download(workspace, spec, _KiB(state))
        return spec

    return QueryOp(parent, op).without_store().with_progress(f"Downloading {spec} from the Hugging Face hub…")


def load_connection(*, parent: QWidget | None):
    from core import gemini_connection as gconn

    return QueryOp(parent, gconn.load)


def save_connection(*, parent: QWidget | None, conn) -> CollectionOp:
    from core import gemini_connection as gconn

    def op(store: Store) -> OpChangesWith:
        gconn.save(store, conn)
        return OpChangesWith(OpChanges(settings=True), conn)

    return CollectionOp(parent, op)


def api_key_state(*, parent: QWidget | None) -> QueryOp[bool]:
    """Whether a Gemini API key is in the keychain (or given this session); the keychain may be slow."""
    from core import gemini_connection as gconn

    return QueryOp(parent, lambda state: gconn.api_key() is not None).without_store()


def keep_api_key(*, parent: QWidget | None, key: str) -> QueryOp[bool]:
    """Put the key in the OS keychain (True); with no secure keychain, keep it in memory for this
    session only and write it nowhere (False)."""
    from core import gemini_connection as gconn

    def op(state: TaskState) -> bool:
        if gconn.store_api_key(key):
            return True
        gconn.remember_for_session(key)
        return False

    return QueryOp(parent, op).without_store()


def test_connection(*, parent: QWidget | None, conn):
    """Each part of the connection checked over the network: without the store."""
    from core import gemini_connection as gconn

    return QueryOp(parent, lambda state: gconn.test_connection(conn)).without_store()
