"""One small function per Tune-page action (issue 14); the page calls only these.

Tuning itself runs in its own process (``core.tuning.worker``): starting,
polling, cancelling and resuming a job are quick store ops. Generation loads a
model and runs for minutes, so it runs without the store (the work pool), on
its own connection to the workspace, saving each batch as it arrives.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from core import models_local
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
    return CollectionOp(parent, lambda store: tuning.get_backend("local").start(store, dataset, settings))


def plan_vertex(*, parent: QWidget | None, dataset: str, epochs: int = 0):
    """What tuning on Vertex AI would upload (an egress manifest), built from the store off the GUI
    thread; ``None`` when no connection is configured (``attune connect``)."""

    def op(store: Store):
        from core import gemini_connection as gconn
        from core.tuning import vertex

        conn = gconn.load(store)
        if not (conn.project and conn.bucket):
            return None
        settings = vertex.TuneSettings(epochs=epochs or 3).check()
        return conn, settings, vertex.plan(store, dataset, conn, settings)

    return QueryOp(parent, op)


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


def poll_jobs(*, parent: QWidget | None) -> CollectionOp[list[JobRecord]]:
    """Every job, the unfinished local ones brought up to date from their worker's files."""

    def op(store: Store) -> list[JobRecord]:
        backend = tuning.get_backend("local")
        return [backend.poll(store, j) if j.backend == "local" else j for j in tuning.list_jobs(store)]

    return CollectionOp(parent, op)


def cancel_job(*, parent: QWidget | None, job: JobRecord) -> CollectionOp[JobRecord] | QueryOp[JobRecord]:
    if job.backend == "local":  # signals the worker process: quick, on the database thread
        return CollectionOp(parent, lambda store: tuning.get_backend(job.backend).cancel(store, job))
    # A remote backend cancels over the network: never on the database thread.
    workspace = taskman().workspace

    def op(state: TaskState) -> JobRecord:
        with open_store(workspace, create=False, check=False) as store:
            return tuning.get_backend(job.backend).cancel(store, job)

    return (QueryOp(parent, op).without_store().with_progress("Cancelling the job…")
            .then_save(lambda _store, done: OpChangesWith(OpChanges(), done)))


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

        settings = GenerationSettings(temperature=0.0)
        with open_store(workspace, create=False, check=False) as store:
            system, kind, model, adapter, base_hash = resolve_target(store, spec, base=base, name=name)
            state.update(0, 0, f"Loading {model.label}…")
            generator = LocalGenerator(model, settings, adapter=adapter, base_hash=base_hash)
            return generate_for_dataset(store, dataset, system, kind, generator, settings, limit=limit, state=state)

    return (QueryOp(parent, op).without_store().with_progress(f"Generating replies ({spec})…")
            .then_save(lambda _store, done: OpChangesWith(OpChanges(responses=True), done)))


def missing_extra() -> str | None:
    return models_local.missing_extra()


def describe_base(spec: str) -> str:
    """One line about a base model for the picker; the reason when it cannot be used."""
    from core.errors import AttuneError

    try:
        model = models_local.resolve(spec)
    except AttuneError as exc:
        return str(exc)
    fits = models_local.fits_memory(model)
    verdict = {True: "fits this machine's memory", False: "may not fit this machine's memory",
               None: "memory unknown"}[fits]
    return f"{model.label}: {model.size_bytes / 1e6:.0f} MB on disk, licence {model.licence}, {verdict}"


def load_connection(*, parent: QWidget | None):
    from core import gemini_connection as gconn

    return QueryOp(parent, gconn.load)


def save_connection(*, parent: QWidget | None, conn) -> CollectionOp:
    from core import gemini_connection as gconn

    def op(store: Store) -> OpChangesWith:
        gconn.save(store, conn)
        return OpChangesWith(OpChanges(settings=True), conn)

    return CollectionOp(parent, op)


def test_connection(*, parent: QWidget | None, conn):
    """Each part of the connection checked over the network: without the store."""
    from core import gemini_connection as gconn

    return QueryOp(parent, lambda state: gconn.test_connection(conn)).without_store()
