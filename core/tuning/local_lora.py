"""Local LoRA tuning: a child process trains, the job row follows it.

``start`` renders the dataset's train and validation splits into the job
folder (``WORKSPACE/tuning/job-N/``) as the Hugging Face prompt–completion
lines of the export (the one renderer, ``core.datasets.items`` →
``formats.training_line``), records settings and hashes in the job row, and
starts ``python -m core.tuning.worker JOBDIR``. The app process never
imports torch for this.

``poll`` reads what the worker wrote (``progress.jsonl``, ``result.json``)
and brings the row up to date; a worker that vanished without a result (a
crash, a kill) makes the job ``failed`` with how to resume, and ``resume``
starts a worker again, which continues from its last checkpoint. A finished
adapter is registered as the system ``local-N`` (kind ``tuned_model``) with
its provenance, ready for ``attune generate``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from core import models_local
from core.datasets import builder, formats
from core.errors import NotFoundError, UsageError
from core.store import Store
from core.store import datasets as ds_store
from core.store import jobs as job_store
from core.store import responses as response_store
from core.store.jobs import JobRecord
from core.tuning.base import TuningBackend, TuningState

BACKEND = "local"
JOBS_DIRNAME = "tuning"
SYSTEM_KIND = "tuned_model"

# Live worker processes started by this app (a child we do not wait on would
# linger as a zombie and look alive).
_PROCS: dict[int, subprocess.Popen] = {}


def defaults_for(size_bytes: int, gguf: bool) -> dict[str, Any]:
    """Settings that suit the model's size (a Q4 GGUF holds ~7x fewer bytes than fp32 weights)."""
    params = size_bytes * (2 if gguf else 0.25)  # rough parameter count
    small = params < 600e6
    return {
        "lora_rank": 16 if small else 8,
        "lora_alpha": 32 if small else 16,
        "lora_dropout": 0.05,
        "target_modules": "all-linear",
        "learning_rate": 2e-4 if small else 1e-4,
        "epochs": 2 if small else 1,
        "batch_size": 4 if small else 2,
        "max_seq_len": 512 if small else 1024,
        "warmup_ratio": 0.05,
        "checkpoint_steps": 10,
        "seed": 42,
        "device": "auto",
    }


SETTING_TYPES = {"lora_rank": int, "lora_alpha": int, "lora_dropout": float, "learning_rate": float,
                 "epochs": int, "batch_size": int, "max_seq_len": int, "warmup_ratio": float,
                 "checkpoint_steps": int, "seed": int, "device": str, "target_modules": (str, list)}


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    for key, value in settings.items():
        if key not in SETTING_TYPES:
            raise UsageError(f"tuning setting {key!r}: unknown (one of {', '.join(sorted(SETTING_TYPES))})")
        if not isinstance(value, SETTING_TYPES[key]) or isinstance(value, bool):
            raise UsageError(f"tuning setting {key}: wrong type ({value!r})")
        if key in ("lora_rank", "lora_alpha", "epochs", "batch_size", "max_seq_len") and value < 1:
            raise UsageError(f"tuning setting {key}: must be at least 1 (got {value})")
        if key == "device" and value not in ("auto", "cpu", "cuda", "mps"):
            raise UsageError(f"tuning setting device: auto, cpu, cuda or mps (got {value!r})")
    return settings


def job_dir(store: Store, job_id: int) -> Path:
    return store.path.parent / JOBS_DIRNAME / f"job-{job_id}"


def read_progress(log_path: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """Every event the worker logged so far (a half-written last line is skipped)."""
    if not log_path or not Path(log_path).exists():
        return []
    out = []
    for line in Path(log_path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def summarise(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The job's metrics from its log: the last step, the curves, validation loss per epoch."""
    out: dict[str, Any] = {"curve": [], "val_loss": [], "train_loss_epoch": []}
    for e in events:
        kind = e.get("event")
        if kind == "start":
            out.update({k: e[k] for k in ("total_steps", "steps_per_epoch", "device", "train_examples",
                                          "validation_examples", "trainable_params") if k in e})
        elif kind == "step":
            out["curve"].append([e["step"], e["loss"]])
            out.update({k: e.get(k) for k in ("step", "total_steps", "epoch", "loss", "tokens_per_s",
                                              "elapsed_s", "eta_s")})
        elif kind == "epoch":
            out["val_loss"].append([e["epoch"], e.get("val_loss")])
            out["train_loss_epoch"].append([e["epoch"], e.get("train_loss")])
        elif kind == "checkpoint":
            out["checkpoint_step"] = e["step"]
        elif kind == "resumed":
            out["resumed"] = out.get("resumed", 0) + 1
        elif kind == "done":
            out["elapsed_s"] = e.get("elapsed_s")
            out["eta_s"] = 0
    return out


def _alive(job: JobRecord, jobdir: Path) -> bool:
    proc = _PROCS.get(job.id)
    if proc is not None:
        if proc.poll() is None:
            return True
        _PROCS.pop(job.id, None)
        return False
    pid_file = jobdir / "pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (ValueError, OSError):
        return False
    # A recycled pid belongs to another program: make sure it is our worker for this folder.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust the signal check
    return str(jobdir).encode() in cmdline and ") Z" not in stat


def _spawn(jobdir: Path) -> subprocess.Popen:
    (jobdir / "cancel").unlink(missing_ok=True)
    (jobdir / "result.json").unlink(missing_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else root
    err = (jobdir / "worker.log").open("ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.tuning.worker", str(jobdir)],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env,
            start_new_session=True,  # Ctrl-C in a terminal, or the app closing, does not kill the run
        )
    finally:
        err.close()
    (jobdir / "pid").write_text(str(proc.pid))
    return proc


class LocalLoraBackend(TuningBackend):
    name = BACKEND
    description = "LoRA on this machine (CPU, CUDA or Apple MPS), in a separate process"

    def available(self) -> str | None:
        return models_local.missing_extra()

    def start(self, store: Store, dataset: str, settings: dict[str, Any]) -> JobRecord:
        models_local.require_extra()
        settings = dict(settings)
        base = models_local.resolve(settings.pop("base", None))
        run_name = settings.pop("name", None)
        record = ds_store.get_dataset(store, dataset)
        full = {**defaults_for(base.size_bytes, base.gguf_file is not None), **check_settings(settings)}
        # The export's own examples, in its file order: train.jsonl here is byte for byte the
        # dataset's hf_train.jsonl (the loss-on-target form the card documents).
        lines: dict[str, list[bytes]] = {"train": [], "validation": []}
        for e in builder.stored_examples(store, record):
            if e.split in lines:
                lines[e.split].append(formats.training_line("hf", record.system_instruction, e.context, e.target))
        splits = {split: b"".join(rows) for split, rows in lines.items()}
        if not splits["train"]:
            raise UsageError(f"dataset {record.name!r} has no training examples")
        job = job_store.create_job(
            store, backend=BACKEND, dataset_id=record.id, dataset_hash=record.content_hash,
            base_model=base.name, base_model_hash=models_local.model_hash(base),
            settings={**full, "base": base.to_json(), "dataset": record.name,
                      "train_sha256": hashlib.sha256(splits["train"]).hexdigest(),
                      "validation_sha256": hashlib.sha256(splits["validation"]).hexdigest(),
                      "name": run_name or None},
        )
        jobdir = job_dir(store, job.id)
        jobdir.mkdir(parents=True, exist_ok=True)
        for split, data in splits.items():
            (jobdir / f"{split}.jsonl").write_bytes(data)
        (jobdir / "config.json").write_text(
            json.dumps({"job": job.id, "base": base.to_json(), "settings": full}, indent=1, sort_keys=True),
            encoding="utf-8")
        _PROCS[job.id] = _spawn(jobdir)
        return job_store.update_job(store, job.id, state=TuningState.RUNNING.value,
                                    log_path=str(jobdir / "progress.jsonl"))

    def poll(self, store: Store, job: JobRecord) -> JobRecord:
        if job.finished and (job.state != TuningState.SUCCEEDED or job.system_name):
            return job
        jobdir = job_dir(store, job.id)
        metrics = {**job.metrics, **summarise(read_progress(job.log_path))}
        result_file = jobdir / "result.json"
        if result_file.exists():
            result = json.loads(result_file.read_text(encoding="utf-8"))
            _PROCS.pop(job.id, None)
            if result["state"] == TuningState.SUCCEEDED:
                return self._register(store, job, metrics)
            return job_store.update_job(store, job.id, state=result["state"], metrics=metrics,
                                        error=result.get("error", ""))
        if _alive(job, jobdir):
            return job_store.update_job(store, job.id, state=TuningState.RUNNING.value, metrics=metrics)
        if job.state == TuningState.RUNNING:
            at = metrics.get("checkpoint_step")
            where = f"its last checkpoint (step {at})" if at else "the start (no checkpoint yet)"
            return job_store.update_job(
                store, job.id, state=TuningState.FAILED.value, metrics=metrics,
                error=f"the training process stopped without finishing (killed or crashed); "
                      f"`attune tune resume {job.id}` continues from {where}")
        return job

    def _register(self, store: Store, job: JobRecord, metrics: dict[str, Any]) -> JobRecord:
        adapter = job_dir(store, job.id) / "adapter"
        name = job.settings.get("name") or f"local-{job.id}"
        provenance = {
            "backend": BACKEND, "job": job.id, "adapter": str(adapter), "base_model": job.base_model,
            "base": job.settings.get("base"), "base_model_hash": job.base_model_hash,
            "dataset": job.settings.get("dataset"), "dataset_hash": job.dataset_hash,
            "settings": {k: v for k, v in job.settings.items() if k not in ("base", "dataset", "name")},
            "final": {k: metrics.get(k) for k in ("val_loss", "train_loss_epoch", "elapsed_s", "device")},
        }
        with store.transaction():
            if response_store.find_system(store, name) is None:
                response_store.insert_system(store, name, SYSTEM_KIND, provenance)
            return job_store.update_job(store, job.id, state=TuningState.SUCCEEDED.value, metrics=metrics,
                                        output=str(adapter), system_name=name, error="")

    def cancel(self, store: Store, job: JobRecord) -> JobRecord:
        if job.finished:
            raise UsageError(f"tuning job {job.id} has already {job.state}")
        jobdir = job_dir(store, job.id)
        (jobdir / "cancel").touch()
        if not _alive(job, jobdir):
            return job_store.update_job(store, job.id, state=TuningState.CANCELLED.value)
        return job

    def resume(self, store: Store, job: JobRecord) -> JobRecord:
        jobdir = job_dir(store, job.id)
        if job.state == TuningState.SUCCEEDED:
            raise UsageError(f"tuning job {job.id} has already succeeded")
        if _alive(job, jobdir):
            raise UsageError(f"tuning job {job.id} is still running")
        if not (jobdir / "config.json").exists():
            raise NotFoundError(f"{jobdir}: the job's folder is gone; start a new job")
        _PROCS[job.id] = _spawn(jobdir)
        return job_store.update_job(store, job.id, state=TuningState.RUNNING.value, error="")


def wait(store: Store, job: JobRecord, *, interval: float = 1.0, on_poll=None, timeout: float | None = None) -> JobRecord:
    """Poll until the job finishes (the CLI's foreground mode)."""
    import time

    backend = LocalLoraBackend()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = backend.poll(store, job_store.get_job(store, job.id))
        if on_poll is not None:
            on_poll(job)
        if job.state != TuningState.RUNNING:
            return job
        if deadline is not None and time.monotonic() > deadline:
            return job
        time.sleep(interval)
