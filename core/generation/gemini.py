"""Replies to a dataset's test items from Gemini on Vertex AI (a base model or a tuned endpoint).

What is sent is an ``egress.Approval``'s payloads and nothing else: the
prompts ``egress.generation_manifest`` rendered (exclusions and redactions
applied), for the items this system has no usable reply to yet. The run is
logged to the egress log before the first request.

Requests go out ``concurrency`` at a time (default 8) under an optional rate
limit; 408/429/5xx, timeouts and dropped connections are retried with
exponential backoff, waiting at least as long as the server asks
(``RetryInfo.retryDelay``; the SDK ignores it, gemini-notes §5). Each reply
is stored as it arrives, so a crash or Cancel loses nothing done and a rerun
only fills the gaps. A blocked prompt, a safety stop, an empty reply and an
error that outlived its retries are stored as outcomes with their reason
(``detail`` JSON) and counted; none of them stops the run. Errors are stored
as ``empty`` with ``"outcome": "error"`` and are tried again by the next run.
"""

from __future__ import annotations

import json
import queue
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from google.genai import errors as genai_errors
from google.genai import types

from core import egress
from core import gemini_connection as gconn
from core.errors import OperationCancelled, UsageError
from core.ids import SystemId
from core.progress import TaskState, null_state
from core.store import Store
from core.store import datasets as ds_store
from core.store import jobs as job_store
from core.store import responses as resp_store

RETRY_CODES = gconn.RETRY_CODES
OUTCOMES = ("ok", "empty", "blocked_prompt", "safety_stop", "error")
DEFAULT_MODEL = "gemini-2.5-flash"


@dataclass(frozen=True, slots=True)
class Settings:
    """Recorded with every reply (the system's provenance), so a run can be repeated."""

    temperature: float = 0.0
    seed: int = 0
    max_output_tokens: int = 1024
    thinking_budget: int | None = 0  # thinking off: tuned models were trained without it
    concurrency: int = 8
    max_attempts: int = 6
    initial_delay_s: float = 1.0
    max_delay_s: float = 60.0
    requests_per_minute: float | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """The model a system's replies come from."""

    system: str  # the system's name, e.g. "gemini-2.5-flash" or "vertex-job-7" (sources.check_name)
    model: str  # a model id or a ``projects/…/endpoints/…`` resource
    kind: str  # "base_model" | "tuned_model" (core.evaluation.sources)
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    sent: int = 0
    skipped: int = 0  # already had a usable reply
    outcomes: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    cancelled: bool = False
    log_id: int = 0


def base_target(model: str) -> Target:
    model = model.strip()
    if not model or "/" in model:
        raise UsageError(f"gemini:MODEL: a model id such as {DEFAULT_MODEL} (got {model!r})")
    name = model if model.startswith("gemini") else f"gemini-{model}"
    return Target(name, model, "base_model", {"model": model, "service": "vertex"})


def tuned_target(store: Store, job_id: int) -> Target:
    """The system replying from a succeeded Vertex tuning job's endpoint (``vertex:JOB``)."""
    job = job_store.get_job(store, job_id)
    if job.backend != "vertex":
        raise UsageError(f"tuning job {job_id} is a {job.backend} job, not a Vertex AI one")
    if job.state != "succeeded" or not job.output:
        raise UsageError(f"tuning job {job_id} is {job.state}: only a succeeded job has a tuned model to ask")
    return Target(gconn.tuned_system_name(job_id), job.output, "tuned_model",
                  {"job": job_id, "base_model": job.base_model, "service": "vertex"})


def target_for(store: Store, spec: str) -> Target:
    """``gemini:MODEL`` (a base model) or ``vertex:JOB`` / ``tuned:JOB`` (a succeeded Vertex tuning job)."""
    kind, _, rest = spec.strip().partition(":")
    if kind == "gemini":
        return base_target(rest)
    if kind in ("vertex", "tuned") and rest.isdigit():
        return tuned_target(store, int(rest))
    raise UsageError(f"system {spec!r}: gemini:MODEL, or vertex:JOB with a tuning job number "
                     "(see `attune tune status`)")


# Planning ####################################################################


def _system_id(store: Store, target: Target, settings: Settings, conn: gconn.Connection) -> SystemId:
    found = resp_store.find_system(store, target.system)
    if found is not None:
        return found.id
    provenance = {**target.provenance, "model": target.model, "project": conn.project, "region": conn.region,
                  "settings": asdict(settings)}
    with store.transaction():
        return resp_store.insert_system(store, target.system, target.kind, provenance)


def done_ids(store: Store, dataset: str, target: Target) -> set[str]:
    """Test items this system already answered (errors are not answers: a rerun tries them again)."""
    system = resp_store.find_system(store, target.system)
    if system is None:
        return set()
    record = ds_store.get_dataset(store, dataset)
    return {eid for eid, r in resp_store.replies_for_dataset(store, system.id, record.id).items()
            if not _is_error(r.detail)}


def _is_error(detail: str) -> bool:
    return detail.startswith("{") and '"outcome": "error"' in detail


def plan(store: Store, dataset: str, target: Target, conn: gconn.Connection) -> egress.Manifest:
    """The manifest of a run: every test item still without a reply from this system."""
    where = gconn.service(conn)
    if where != "vertex" and target.kind != "base_model":
        raise UsageError("a tuned Vertex AI endpoint needs the Vertex AI connection (`attune connect --project P`)")
    destination = (egress.Destination("vertex", conn.project, conn.region, model=target.model) if where == "vertex"
                   else egress.Destination("gemini-api", model=target.model))
    return egress.generation_manifest(store, dataset, destination, skip=done_ids(store, dataset, target))


# Running #####################################################################


class _RateLimit:
    def __init__(self, per_minute: float | None) -> None:
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self._interval
        if at > now:
            time.sleep(at - now)


def _server_delay(exc: genai_errors.APIError) -> float:
    """The wait the server asked for (google.rpc.RetryInfo), in seconds; 0 if none."""
    details = exc.details.get("error", {}).get("details", []) if isinstance(exc.details, dict) else []
    for d in details if isinstance(details, list) else []:
        m = re.fullmatch(r"\s*([\d.]+)s\s*", str(d.get("retryDelay", ""))) if isinstance(d, dict) else None
        if m:
            return float(m.group(1))
    return 0.0


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, genai_errors.APIError):
        return exc.code in RETRY_CODES
    # timeouts and dropped connections from the SDK's HTTP transport
    name = type(exc).__name__
    return any(w in name for w in ("Timeout", "Connect", "RemoteProtocol", "ReadError", "NetworkError"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, genai_errors.APIError):
        return f"{exc.code} {exc.status or ''}: {exc.message or ''}".strip()
    kind = "timeout" if "Timeout" in type(exc).__name__ else type(exc).__name__
    return f"{kind}: {' '.join(str(exc).split())[:200]}"


def _call(client: Any, target: Target, prompt: dict[str, Any], settings: Settings, limit: _RateLimit,
          stop: threading.Event, counts: Counter[str]) -> Any:
    system = prompt.get("systemInstruction")
    config = types.GenerateContentConfig(
        system_instruction=types.Content(**system) if system else None,
        temperature=settings.temperature,
        seed=settings.seed,
        max_output_tokens=settings.max_output_tokens,
        candidate_count=1,
        thinking_config=(types.ThinkingConfig(thinking_budget=settings.thinking_budget)
                         if settings.thinking_budget is not None else None),
    )
    attempt = 0
    while True:
        limit.wait()
        try:
            return client.models.generate_content(model=target.model, contents=prompt["contents"], config=config)
        except Exception as exc:  # noqa: BLE001 - classified below; the run never stops on one item
            attempt += 1
            if not _is_transient(exc) or attempt >= settings.max_attempts or stop.is_set():
                raise
            backoff = min(settings.max_delay_s, settings.initial_delay_s * 2 ** (attempt - 1))
            server = _server_delay(exc) if isinstance(exc, genai_errors.APIError) else 0.0
            delay = max(server, backoff * (0.5 + random.random() / 2))
            counts["retries"] += 1
            if stop.wait(delay):
                raise


def classify(response: Any) -> tuple[str, str, dict[str, Any]]:
    """(responses.state, outcome, detail) of one generateContent response."""
    feedback = getattr(response, "prompt_feedback", None)
    if feedback is not None and feedback.block_reason is not None:
        return "blocked", "blocked_prompt", {
            "outcome": "blocked_prompt", "reason": str(feedback.block_reason.value),
            "message": feedback.block_reason_message or "",
            "safety_ratings": [r.model_dump(mode="json", exclude_none=True) for r in feedback.safety_ratings or []],
        }
    candidates = response.candidates or []
    if not candidates:
        return "empty", "empty", {"outcome": "empty", "reason": "no candidates"}
    cand = candidates[0]
    finish = cand.finish_reason.value if cand.finish_reason is not None else ""
    text = "".join(p.text or "" for p in (cand.content.parts or []) if not p.thought) if cand.content else ""
    if finish in ("SAFETY", "PROHIBITED_CONTENT", "SPII", "BLOCKLIST", "RECITATION", "IMAGE_SAFETY"):
        return "blocked", "safety_stop", {
            "outcome": "safety_stop", "reason": finish, "message": cand.finish_message or "",
            "safety_ratings": [r.model_dump(mode="json", exclude_none=True) for r in cand.safety_ratings or []],
        }
    if not text.strip():
        return "empty", "empty", {"outcome": "empty", "reason": finish or "no text"}
    return "ok", "ok", {"outcome": "ok", "finish_reason": finish}


def run(
    store: Store,
    approval: egress.Approval,
    conn: gconn.Connection,
    target: Target,
    settings: Settings = Settings(),
    state: TaskState | None = None,
    client: Any = None,
    on_reply: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Send the approved prompts, store each reply or outcome as it arrives."""
    state = state or null_state()
    m = approval.manifest
    if m.kind != "generation" or m.destination.model != target.model:
        raise UsageError("this approval is not for a generation run with this model")
    if settings.concurrency < 1:
        raise UsageError("--concurrency: at least 1")
    client = client if client is not None else gconn.genai_client(conn)
    system_id = _system_id(store, target, settings, conn)
    result = RunResult(skipped=int(m.extra.get("already_done", 0)))
    if not m.payloads:
        return result
    result.log_id = egress.record(
        store, approval, destination=(f"vertex:{conn.project}/{conn.region}/{target.model}"
                                      if m.destination.service == "vertex" else f"gemini-api:{target.model}"),
        detail={"system": target.system, "settings": asdict(settings), "requests": len(m.payloads)},
    )
    limit, stop, counts = _RateLimit(settings.requests_per_minute), threading.Event(), Counter[str]()
    # what decided each reply besides its prompt, kept with the reply
    recorded = {"temperature": settings.temperature, "seed": settings.seed,
                "max_output_tokens": settings.max_output_tokens, "thinking_budget": settings.thinking_budget}
    total = len(m.payloads)
    started = time.monotonic()
    # Workers take the next prompt themselves, so a free slot never waits for
    # this thread; this thread only stores what arrives (SQLite stays on it).
    todo: queue.SimpleQueue[egress.Payload] = queue.SimpleQueue()
    for p in m.payloads:
        todo.put(p)
    arrived: queue.SimpleQueue[tuple[str, Any, BaseException | None]] = queue.SimpleQueue()

    def worker() -> None:
        while not stop.is_set():
            try:
                p = todo.get_nowait()
            except queue.Empty:
                return
            try:
                arrived.put((p.name, _call(client, target, json.loads(p.data), settings, limit, stop, counts), None))
            except BaseException as exc:  # noqa: BLE001 - stored as the item's outcome
                arrived.put((p.name, None, exc))

    threads = [threading.Thread(target=worker, name=f"gemini-{n}", daemon=True)
               for n in range(min(settings.concurrency, total))]
    for t in threads:
        t.start()
    try:
        while result.sent < total:
            try:
                batch = [arrived.get(timeout=0.25)]
            except queue.Empty:
                batch = []
            while True:
                try:
                    batch.append(arrived.get_nowait())
                except queue.Empty:
                    break
            state.check_cancelled()
            if not batch:
                if not any(t.is_alive() for t in threads) and arrived.empty():
                    break
                continue
            rows = [_row(eid, response, exc, target, result, recorded) for eid, response, exc in batch]
            with store.transaction():
                resp_store.write_replies(store, system_id, rows)
            result.sent += len(rows)
            if on_reply is not None:
                for r in rows:
                    on_reply(r.example_id, json.loads(r.detail)["outcome"] if r.detail else "ok")
            eta = (time.monotonic() - started) / result.sent * (total - result.sent)
            state.update(result.sent, total, f"replies ({eta:.0f} s left)")
    except OperationCancelled:
        result.cancelled = True
        stop.set()
        for t in threads:
            t.join()
        # replies that came back while we stopped are paid for: keep them
        late = []
        while not arrived.empty():
            eid, response, exc = arrived.get_nowait()
            if exc is None:
                late.append(_row(eid, response, exc, target, result, recorded))
        if late:
            with store.transaction():
                resp_store.write_replies(store, system_id, late)
            result.sent += len(late)
    finally:
        stop.set()
        for t in threads:
            t.join()
    result.retries = counts["retries"]
    return result


def _row(example_id: str, response: Any, exc: BaseException | None, target: Target,
         result: RunResult, recorded: dict[str, Any]) -> resp_store.ReplyRow:
    provenance: dict[str, Any] = {"model": target.model, **recorded}
    if exc is not None:
        outcome, state, text = "error", "empty", ""
        detail: dict[str, Any] = {"outcome": "error", "reason": _reason(exc)}
    else:
        state, outcome, detail = classify(response)
        text = response.text or "" if state == "ok" else ""
        usage = response.usage_metadata
        provenance.update({
            "model_version": response.model_version or "",
            "response_id": response.response_id or "",
            "usage": usage.model_dump(mode="json", exclude_none=True) if usage is not None else {},
        })
    result.outcomes[outcome] += 1
    return resp_store.ReplyRow(
        example_id=example_id, text=text, state=state,
        detail=json.dumps(detail, sort_keys=True) if outcome != "ok" else "",
        provenance=provenance,
    )
