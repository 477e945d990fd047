"""Supervised tuning of Gemini on Vertex AI: upload, create, follow, cancel.

Tuning needs the dataset in Cloud Storage (gemini-notes §2.3), so this is
where training text leaves the machine: only the payloads of an
``egress.Approval`` (the dataset's exported Vertex files, rendered now with
every exclusion and redaction) are uploaded, each upload logged first.

The job lives in the shared ``tuning_jobs`` table (backend ``vertex``): the row
is written before the remote job is created and carries its remote name, so
a restarted app finds every unfinished job and polls it again (``resume``).
On success the tuned endpoint becomes a system, ``vertex-job-<job id>``, that
``attune generate --system vertex:<job id>`` replies from.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from google.genai import errors as genai_errors
from google.genai import types

from core import egress
from core import gemini_connection as gconn
from core.errors import UsageError
from core.progress import TaskState, null_state
from core.store import Store
from core.store import datasets as ds_store
from core.store import jobs as job_store
from core.store import responses as resp_store
from core.store.jobs import JobRecord
from core.tuning.base import TuningBackend

BACKEND = "vertex"
# Editable (``--base-model``); check availability with `attune connect --test`.
BASE_MODELS = gconn.BASE_MODELS
DEFAULT_BASE_MODEL = BASE_MODELS[0]
ADAPTER_SIZES = gconn.ADAPTER_SIZES
_STATES = {
    "JOB_STATE_QUEUED": "pending", "JOB_STATE_PENDING": "pending", "JOB_STATE_UNSPECIFIED": "pending",
    "JOB_STATE_RUNNING": "running", "JOB_STATE_UPDATING": "running", "JOB_STATE_PAUSED": "running",
    "JOB_STATE_CANCELLING": "running",
    "JOB_STATE_SUCCEEDED": "succeeded", "JOB_STATE_PARTIALLY_SUCCEEDED": "succeeded",
    "JOB_STATE_FAILED": "failed", "JOB_STATE_EXPIRED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
}


@dataclass(frozen=True, slots=True)
class TuneSettings:
    base_model: str = DEFAULT_BASE_MODEL
    epochs: int = 3
    adapter_size: str = "ADAPTER_SIZE_FOUR"
    learning_rate_multiplier: float = 1.0
    display_name: str = ""

    def check(self) -> TuneSettings:
        if not self.base_model.strip():
            raise UsageError("--base-model: a model id such as gemini-2.5-flash")
        if not 1 <= self.epochs <= 100:
            raise UsageError(f"--epochs: 1 to 100 (got {self.epochs})")
        if self.adapter_size not in ADAPTER_SIZES:
            raise UsageError(f"--adapter-size: one of {', '.join(ADAPTER_SIZES)} (got {self.adapter_size!r})")
        if not 0 < self.learning_rate_multiplier <= 10:
            raise UsageError(f"--lr-multiplier: above 0, at most 10 (got {self.learning_rate_multiplier})")
        if len(self.display_name) > 128:
            raise UsageError("--display-name: at most 128 characters")
        return self


def destination(conn: gconn.Connection, base_model: str) -> egress.Destination:
    gconn.require_vertex(conn)
    if not conn.bucket:
        raise UsageError("no bucket set: tuning reads its data from Cloud Storage (`attune connect --bucket B`)")
    return egress.Destination("vertex", conn.project, conn.region, conn.bucket, conn.prefix, base_model)


def plan(store: Store, dataset: str, conn: gconn.Connection, settings: TuneSettings) -> egress.Manifest:
    """What ``start`` would upload, for the user to confirm."""
    return egress.upload_manifest(store, dataset, destination(conn, settings.check().base_model))


def start(
    store: Store,
    approval: egress.Approval,
    conn: gconn.Connection,
    settings: TuneSettings,
    *,
    storage: Any = None,
    client: Any = None,
) -> JobRecord:
    """Upload the approved files, create the tuning job, store it; returns the job row."""
    m = approval.manifest
    settings.check()
    if m.kind != "upload" or m.destination.model != settings.base_model:
        raise UsageError("this approval is not for uploading a dataset to tune this model")
    dataset = str(m.extra["dataset"])
    record = ds_store.get_dataset(store, dataset)
    storage = storage if storage is not None else gconn.storage_client(conn)
    bucket = storage.bucket(conn.bucket)
    uris: dict[str, str] = {}
    for p in m.payloads:
        # the content hash in the name: a new build never overwrites a file a job is reading
        name = conn.object_name(dataset, record.content_hash[:12], p.name)
        uri = f"gs://{conn.bucket}/{name}"
        egress.record(store, approval, destination=uri, payloads=[p], detail={"object": name})
        bucket.blob(name).upload_from_string(p.data, content_type="application/jsonl")
        uris[p.name] = uri
    display = settings.display_name or f"attune-{dataset}"[:128]
    job = job_store.create_job(
        store, backend=BACKEND, dataset_id=record.id, dataset_hash=record.content_hash,
        base_model=settings.base_model,
        settings={**asdict(settings), "display_name": display, "uris": uris, "dataset": dataset,
                  "project": conn.project, "region": conn.region},
    )
    client = client if client is not None else gconn.genai_client(conn, retries=4)
    config = types.CreateTuningJobConfig(
        tuned_model_display_name=display,
        epoch_count=settings.epochs,
        learning_rate_multiplier=settings.learning_rate_multiplier,
        adapter_size=settings.adapter_size,
        validation_dataset=(types.TuningValidationDataset(gcs_uri=uris["vertex_validation.jsonl"])
                            if "vertex_validation.jsonl" in uris else None),
        labels={"app": "attune", "attune-job": str(job.id)},
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the SDK's "tuning is experimental" notice
            remote = client.tunings.tune(
                base_model=settings.base_model,
                training_dataset=types.TuningDataset(gcs_uri=uris["vertex_train.jsonl"]),
                config=config,
            )
    except Exception as exc:
        job_store.update_job(store, job.id, state="failed", error=f"creating the job failed: {_short(exc)}")
        raise UsageError(f"Vertex AI refused the tuning job: {_short(exc)}") from exc
    return _apply(store, job, remote)


def _short(exc: BaseException) -> str:
    if isinstance(exc, genai_errors.APIError):
        return f"{exc.code} {exc.status or ''}: {exc.message or ''}"
    return " ".join(str(exc).split())[:300]


def _apply(store: Store, job: JobRecord, remote: Any) -> JobRecord:
    """Store what the service says about the job; register the endpoint on success."""
    state = _STATES.get(remote.state.value if remote.state is not None else "", "running")
    metrics = dict(job.metrics)
    metrics["remote_state"] = remote.state.value if remote.state is not None else ""
    for key in ("create_time", "start_time", "end_time", "update_time"):
        value = getattr(remote, key, None)
        if value is not None:
            metrics[key] = value.isoformat()
    stats = remote.tuning_data_stats
    if stats is not None and stats.supervised_tuning_data_stats is not None:
        metrics["data_stats"] = stats.supervised_tuning_data_stats.model_dump(mode="json", exclude_none=True)
    changes: dict[str, Any] = {"state": state, "metrics": metrics, "remote_name": remote.name or job.remote_name}
    if remote.error is not None and state in ("failed", "cancelled"):
        changes["error"] = f"{remote.error.code}: {remote.error.message}"
    if state == "succeeded" and remote.tuned_model is not None:
        endpoint = remote.tuned_model.endpoint or remote.tuned_model.model
        changes["output"] = endpoint
        changes["system_name"] = _register(store, job, endpoint, remote)
    return job_store.update_job(store, job.id, **changes)


def system_name(job_id: int) -> str:
    return gconn.tuned_system_name(job_id)


def _register(store: Store, job: JobRecord, endpoint: str, remote: Any) -> str:
    name = system_name(job.id)
    if resp_store.find_system(store, name) is None:
        with store.transaction():
            resp_store.insert_system(store, name, "tuned_model", {
                "model": endpoint, "tuned_model": remote.tuned_model.model or "", "job": job.id,
                "remote_job": remote.name or "", "base_model": job.base_model, "dataset_hash": job.dataset_hash,
                "settings": {k: v for k, v in job.settings.items() if k != "uris"},
            })
    return name


def _vertex_job(store: Store, job_id: int) -> JobRecord:
    job = job_store.get_job(store, job_id)
    if job.backend != BACKEND:
        raise UsageError(f"tuning job {job_id} is a {job.backend} job, not a Vertex AI one")
    return job


def poll(store: Store, job_id: int, conn: gconn.Connection, *, client: Any = None) -> JobRecord:
    """Ask the service once how the job is doing and store the answer."""
    job = _vertex_job(store, job_id)
    if job.finished or not job.remote_name:
        return job
    return _apply(store, job, fetch(conn, job, client=client))


# The app splits a poll in two: ``fetch``/``request_cancel`` talk to the
# service off the database thread, ``save_remote`` stores the answer on it.


def fetch(conn: gconn.Connection, job: JobRecord, *, client: Any = None) -> Any:
    """The service's view of the job (network only, no store)."""
    if not job.remote_name:
        raise UsageError(f"tuning job {job.id} was never created on Vertex AI")
    client = client if client is not None else gconn.genai_client(conn)
    return client.tunings.get(name=job.remote_name)


def request_cancel(conn: gconn.Connection, job: JobRecord, *, client: Any = None) -> Any:
    """Ask the service to cancel the job; returns its view of the job afterwards (network only)."""
    if job.finished:
        raise UsageError(f"tuning job {job.id} already {job.state}")
    client = client if client is not None else gconn.genai_client(conn)
    client.tunings.cancel(name=job.remote_name)
    return client.tunings.get(name=job.remote_name)


def save_remote(store: Store, job_id: int, remote: Any) -> JobRecord:
    """Store what ``fetch``/``request_cancel`` brought back (registers the endpoint on success)."""
    job = _vertex_job(store, job_id)
    return job if job.finished else _apply(store, job, remote)


def transient(exc: BaseException) -> bool:
    """A failure that only lengthens the wait between polls (408/429/5xx, timeouts, dropped connections)."""
    if isinstance(exc, genai_errors.APIError):
        return exc.code in gconn.RETRY_CODES
    return "Timeout" in type(exc).__name__ or "Connect" in type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """One line for a failed call to the service."""
    return _short(exc)


FIRST_POLL_S = 10.0
MAX_POLL_S = 300.0


def next_delay(delay: float, changed: bool, *, first: float = FIRST_POLL_S, most: float = MAX_POLL_S) -> float:
    """The wait before the next poll: back to ``first`` when the job moved, else doubled up to ``most``."""
    return first if changed else min(most, delay * 2)


def follow(
    store: Store,
    job_id: int,
    conn: gconn.Connection,
    *,
    state: TaskState | None = None,
    first_delay_s: float = FIRST_POLL_S,
    max_delay_s: float = MAX_POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    client: Any = None,
) -> JobRecord:
    """Poll until the job ends (or Cancel), backing off while nothing changes.

    Transient service errors (408/429/5xx, timeouts) only lengthen the wait.
    """
    state = state or null_state()
    client = client if client is not None else gconn.genai_client(conn)
    delay = first_delay_s
    job = _vertex_job(store, job_id)
    while not job.finished:
        before = job.metrics.get("remote_state")
        try:
            job = poll(store, job_id, conn, client=client)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is retried like a 503
            if not transient(exc):
                raise
        state.update(0, 0, f"job {job_id}: {job.metrics.get('remote_state', job.state)}")
        if job.finished:
            break
        state.check_cancelled()
        delay = next_delay(delay, job.metrics.get("remote_state") != before, first=first_delay_s, most=max_delay_s)
        sleep(delay)
    return job


def resume(store: Store, conn: gconn.Connection, *, client: Any = None) -> list[JobRecord]:
    """Poll every unfinished Vertex job once (the app calls this when it starts)."""
    unfinished = job_store.list_jobs(store, backend=BACKEND, unfinished=True)
    if not unfinished:
        return []
    client = client if client is not None else gconn.genai_client(conn)
    return [poll(store, j.id, conn, client=client) for j in unfinished]


def cancel(store: Store, job_id: int, conn: gconn.Connection, *, client: Any = None) -> JobRecord:
    """Ask the service to cancel, then store the state it reports."""
    job = _vertex_job(store, job_id)
    if job.finished:
        raise UsageError(f"tuning job {job_id} already {job.state}")
    if not job.remote_name:
        return job_store.update_job(store, job_id, state="cancelled", error="cancelled before it was created")
    client = client if client is not None else gconn.genai_client(conn)
    client.tunings.cancel(name=job.remote_name)
    return poll(store, job_id, conn, client=client)


# Preflight ####################################################################

# USD per million training tokens by base model. Not verified against the live
# price list (https://cloud.google.com/vertex-ai/generative-ai/pricing) when
# written: edit it (`attune tune preflight --price`), it is kept per workspace.
PRICE_PER_MILLION = {"gemini-2.5-flash": 5.0, "gemini-2.5-flash-lite": 1.5, "gemini-2.5-pro": 25.0}
PRICE_DATE = "2026-11-30 (unverified; check the live price list)"
PRICE_SETTING = "vertex_tuning_price"
MIN_TRAINING_EXAMPLES = 100


@dataclass(frozen=True, slots=True)
class Preflight:
    examples: dict[str, int]  # file → examples
    tokens: dict[str, int]  # file → estimated tokens
    over_limit: int
    billable_tokens: int  # training tokens × epochs
    price_per_million: float
    price_date: str
    cost_usd: float
    warnings: tuple[str, ...]
    exact: bool = False

    def lines(self) -> list[str]:
        about = "" if self.exact else "~"
        out = [f"{name}: {n} examples, {about}{self.tokens[name]} tokens" for name, n in self.examples.items()]
        out.append(f"billable training tokens (train × epochs): {'' if self.exact else '~'}{self.billable_tokens}")
        out.append(f"estimated cost: ${self.cost_usd:.2f} at ${self.price_per_million:g} per million tokens "
                   f"(price of {self.price_date})")
        out += [f"warning: {w}" for w in self.warnings]
        return out


def price(store: Store, base_model: str) -> tuple[float, str]:
    from core.store.transcripts import get_setting

    saved = get_setting(store, PRICE_SETTING, {})
    if isinstance(saved, dict) and base_model in saved:
        return float(saved[base_model]["usd_per_million"]), str(saved[base_model]["date"])
    return PRICE_PER_MILLION.get(base_model, PRICE_PER_MILLION[DEFAULT_BASE_MODEL]), PRICE_DATE


def set_price(store: Store, base_model: str, usd_per_million: float, date: str) -> None:
    from core.store.transcripts import get_setting, set_setting

    if usd_per_million < 0:
        raise UsageError("--price: not negative")
    saved = get_setting(store, PRICE_SETTING, {})
    saved = dict(saved) if isinstance(saved, dict) else {}
    saved[base_model] = {"usd_per_million": usd_per_million, "date": date}
    set_setting(store, PRICE_SETTING, saved)


def preflight(store: Store, manifest: egress.Manifest, settings: TuneSettings,
              exact: dict[str, int] | None = None) -> Preflight:
    """Examples, tokens (``exact`` from ``count_tokens``, else the offline estimate), over-limit
    examples, the validation cap and the cost."""
    import json

    from core.datasets import tokens

    examples: dict[str, int] = {}
    counts: dict[str, int] = {}
    over = 0
    for p in manifest.payloads:
        total = 0
        for line in p.data.splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            texts = [part.get("text", "") for c in obj.get("contents", []) for part in c.get("parts", [])]
            texts += [part.get("text", "") for part in obj.get("systemInstruction", {}).get("parts", [])]
            n = tokens.estimate_tokens(texts)
            over += n > tokens.MAX_TOKENS_PER_EXAMPLE
            total += n
        examples[p.name], counts[p.name] = p.examples, total
    if exact is not None:
        counts = dict(exact)
    billable = counts.get("vertex_train.jsonl", 0) * settings.epochs
    usd, date = price(store, settings.base_model)
    warnings_: list[str] = []
    train = examples.get("vertex_train.jsonl", 0)
    if train < MIN_TRAINING_EXAMPLES:
        warnings_.append(f"only {train} training examples; Google suggests starting with about "
                         f"{MIN_TRAINING_EXAMPLES}")
    if examples.get("vertex_validation.jsonl", 0) > tokens.MAX_VALIDATION_EXAMPLES:
        warnings_.append(f"more than {tokens.MAX_VALIDATION_EXAMPLES} validation examples: Vertex AI refuses the job")
    if "vertex_validation.jsonl" not in examples:
        warnings_.append("no validation examples: Google strongly recommends a validation set")
    if over:
        warnings_.append(f"{over} examples over {tokens.MAX_TOKENS_PER_EXAMPLE} tokens: Vertex AI drops them")
    return Preflight(examples, counts, over, billable, usd, date, billable / 1e6 * usd, tuple(warnings_),
                     exact=exact is not None)


def count_tokens(store: Store, approval: egress.Approval, conn: gconn.Connection, *,
                 client: Any = None) -> dict[str, int]:
    """Exact token counts of the approved files (Vertex ``countTokens``, one call per example).

    This sends the training text too, so it takes an approval and is logged
    (kind ``count_tokens``); nothing is stored remotely.
    """
    import json

    m = approval.manifest
    client = client if client is not None else gconn.genai_client(conn, retries=4)
    out: dict[str, int] = {}
    for p in m.payloads:
        egress.record(store, approval, destination=f"vertex:{conn.project}/{conn.region}/{m.destination.model}",
                      payloads=[p], kind="count_tokens")
        total = 0
        for line in p.data.splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            system = obj.get("systemInstruction")
            config = types.CountTokensConfig(system_instruction=types.Content(**system)) if system else None
            total += client.models.count_tokens(model=m.destination.model, contents=obj["contents"],
                                                config=config).total_tokens or 0
        out[p.name] = total
    return out


# The shared backend interface (core.tuning.base) ##############################


class VertexBackend(TuningBackend):
    """``--backend vertex``: start needs the user's approval of the upload (``settings["approval"]``)."""

    name = BACKEND
    description = "supervised tuning of Gemini on Vertex AI (uploads the training files after confirmation)"

    def start(self, store: Store, dataset: str, settings: dict[str, Any]) -> JobRecord:
        approval = settings.get("approval")
        if not isinstance(approval, egress.Approval):
            raise egress.EgressRefused(f"dataset {dataset!r}: not sent — tuning on Vertex AI uploads the "
                                       "training files and needs their confirmation first")
        if approval.manifest.extra.get("dataset") != dataset:
            raise UsageError("this approval is for another dataset")
        fields = {k: v for k, v in settings.items() if k in TuneSettings.__dataclass_fields__}
        return start(store, approval, gconn.load(store), TuneSettings(**fields))

    def poll(self, store: Store, job: JobRecord) -> JobRecord:
        return poll(store, job.id, gconn.load(store))

    def cancel(self, store: Store, job: JobRecord) -> JobRecord:
        return cancel(store, job.id, gconn.load(store))

    def resume(self, store: Store, job: JobRecord) -> JobRecord:
        return poll(store, job.id, gconn.load(store))

    def available(self) -> str | None:
        return None
