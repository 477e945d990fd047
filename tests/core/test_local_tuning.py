"""Local LoRA tuning with a tiny random model: the real worker process, checkpoints, kill and resume.

Needs the ``attune-studio[local]`` extra (torch, transformers, peft), which
``make test`` installs; skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from core import models_local
from core.errors import NotFoundError, UsageError
from core.store import jobs as job_store

pytestmark = pytest.mark.skipif(models_local.missing_extra() is not None,
                                reason=f"local tuning extra absent: {models_local.missing_extra()}")


# The tiny model (built once per module) and a small built dataset, shared with the
# other local-model tests.
from tests.core.local_model_fixtures import dataset_store, tiny  # noqa: E402,F401


def _events(job) -> list[dict]:
    from core.tuning.local_lora import read_progress

    return read_progress(job.log_path)


def _wait_for(pred, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting for the training process"
        time.sleep(0.2)


# Jobs store ###################################################################


def test_jobs_store_round_trip_and_refusals(store) -> None:
    job = job_store.create_job(store, backend="local", dataset_id=None, dataset_hash="h", base_model="default",
                               settings={"epochs": 2})
    assert (job.state, job.settings, job.metrics) == ("pending", {"epochs": 2}, {})
    job = job_store.update_job(store, job.id, state="running", metrics={"step": 3})
    assert (job.state, job.metrics, job.finished) == ("running", {"step": 3}, False)
    other = job_store.create_job(store, backend="vertex", dataset_id=None, dataset_hash="h", base_model="g")
    assert [j.id for j in job_store.list_jobs(store)] == [other.id, job.id]
    assert [j.id for j in job_store.list_jobs(store, backend="local", unfinished=True)] == [job.id]
    with pytest.raises(UsageError, match="job state"):
        job_store.update_job(store, job.id, state="exploded")
    with pytest.raises(UsageError, match="cannot change backend"):
        job_store.update_job(store, job.id, backend="x")
    with pytest.raises(NotFoundError):
        job_store.get_job(store, 999)


# Loss on the target only ######################################################


def test_training_sequence_masks_the_prompt_and_starts_with_the_generation_prompt(tiny: Path) -> None:
    from core.tuning import runtime

    tok = runtime.load_tokenizer(models_local.resolve(str(tiny)).to_json())
    prompt = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "I cannot sleep."}]
    completion = [{"role": "assistant", "content": "It sounds like the nights are long."}]
    ids, labels = runtime.encode_example(tok, prompt, completion, 512)
    head = runtime.prompt_ids(tok, prompt)  # what generation sends
    assert ids[: len(head)] == head
    assert labels[: len(head)] == [runtime.IGNORE] * len(head)
    learned = tok.decode([t for t in labels if t != runtime.IGNORE])
    assert learned == "It sounds like the nights are long.<|im_end|>\n"
    # Too long: the oldest context goes, the target stays whole.
    long_prompt = [{"role": "user", "content": "word " * 300}]
    ids, labels = runtime.encode_example(tok, long_prompt, completion, 64)
    assert len(ids) == 64 and tok.decode([t for t in labels if t != runtime.IGNORE]).startswith("It sounds")


def test_training_data_is_the_exported_hf_lines(dataset_store, tiny: Path) -> None:
    import hashlib

    from core.store import datasets as ds_store
    from core.tuning.base import get_backend
    from core.tuning.local_lora import job_dir

    job = get_backend("local").start(dataset_store, "d", {"base": str(tiny), "epochs": 1, "device": "cpu"})
    get_backend("local").cancel(dataset_store, job)
    record = ds_store.get_dataset(dataset_store, "d")
    for split in ("train", "validation"):
        rendered = (job_dir(dataset_store, job.id) / f"{split}.jsonl").read_bytes()
        # byte for byte the dataset's exported Hugging Face file (its hash was recorded at build time)
        assert hashlib.sha256(rendered).hexdigest() == record.counts["files"][f"hf_{split}.jsonl"]
        assert job.settings[f"{split}_sha256"] == record.counts["files"][f"hf_{split}.jsonl"]
    first = json.loads(rendered.splitlines()[0])
    assert set(first) == {"prompt", "completion"}


# The real training process ####################################################


def test_tune_learns_records_validation_loss_and_registers_the_adapter(dataset_store, tiny: Path) -> None:
    from core.store import responses as response_store
    from core.tuning import local_lora
    from core.tuning.base import get_backend

    backend = get_backend("local")
    job = backend.start(dataset_store, "d", {"base": str(tiny), "epochs": 3, "learning_rate": 0.01,
                                             "device": "cpu", "name": "tuned"})
    assert job.state == "running" and Path(job.log_path).parent.is_dir()
    job = local_lora.wait(dataset_store, job, interval=0.3, timeout=180)
    assert job.state == "succeeded", job.error
    vals = [v for _, v in job.metrics["val_loss"]]
    assert len(vals) == 3 and vals[-1] < vals[0], vals  # it learned something
    assert job.metrics["step"] == job.metrics["total_steps"] and job.metrics["tokens_per_s"] > 0
    assert (Path(job.output) / "adapter_config.json").is_file()
    system = response_store.get_system(dataset_store, "tuned")
    assert system.kind == "tuned_model"
    prov = system.provenance
    assert prov["job"] == job.id and prov["adapter"] == job.output
    assert prov["base_model_hash"] == models_local.model_hash(models_local.resolve(str(tiny)))
    assert prov["settings"]["learning_rate"] == 0.01 and prov["settings"]["lora_rank"] == 16
    assert prov["dataset_hash"] == job.dataset_hash
    # Seeds are fixed: the first step's loss is the same in a second run.
    again = local_lora.wait(dataset_store, backend.start(
        dataset_store, "d", {"base": str(tiny), "epochs": 1, "learning_rate": 0.01, "device": "cpu"}), timeout=180)
    assert again.metrics["curve"][0] == job.metrics["curve"][0]


def test_a_killed_training_process_resumes_from_its_checkpoint(dataset_store, tiny: Path) -> None:
    from core.tuning import local_lora
    from core.tuning.base import get_backend

    backend = get_backend("local")
    job = backend.start(dataset_store, "d", {"base": str(tiny), "epochs": 4, "checkpoint_steps": 3,
                                             "batch_size": 2, "device": "cpu"})
    jobdir = local_lora.job_dir(dataset_store, job.id)
    _wait_for(lambda: any(e["event"] == "checkpoint" for e in _events(job)))
    total = next(e for e in _events(job) if e["event"] == "start")["total_steps"]
    os.kill(int((jobdir / "pid").read_text()), signal.SIGKILL)
    _wait_for(lambda: backend.poll(dataset_store, job_store.get_job(dataset_store, job.id)).state != "running")
    killed = job_store.get_job(dataset_store, job.id)
    assert killed.state == "failed" and "tune resume" in killed.error
    reached = max(e["step"] for e in _events(job) if e["event"] == "step")
    assert reached < total, "the job finished before it was killed; the test needs more steps"

    # The app "restarts": forget the child it started, find the job from the row alone.
    local_lora._PROCS.clear()
    resumed = backend.resume(dataset_store, killed)
    assert resumed.state == "running"
    done = local_lora.wait(dataset_store, resumed, interval=0.3, timeout=240)
    assert done.state == "succeeded", done.error
    events = _events(done)
    resume = next(e for e in events if e["event"] == "resumed")
    assert 0 < resume["step"] <= reached
    steps_after = [e["step"] for e in events[events.index(resume):] if e["event"] == "step"]
    assert steps_after == list(range(resume["step"] + 1, total + 1))
    assert done.metrics["resumed"] == 1 and done.system_name == f"local-{done.id}"


def test_cancel_stops_the_process_and_a_second_cancel_is_refused(dataset_store, tiny: Path) -> None:
    from core.tuning import local_lora
    from core.tuning.base import get_backend

    backend = get_backend("local")
    job = backend.start(dataset_store, "d", {"base": str(tiny), "epochs": 20, "device": "cpu"})
    _wait_for(lambda: any(e["event"] == "step" for e in _events(job)))
    backend.cancel(dataset_store, job)
    job = local_lora.wait(dataset_store, job, interval=0.2, timeout=60)
    assert job.state == "cancelled"
    assert any(e["event"] == "cancelled" for e in _events(job))
    with pytest.raises(UsageError, match="already cancelled"):
        backend.cancel(dataset_store, job)


def test_bad_settings_and_missing_extra_are_one_line_errors(dataset_store, tiny: Path, monkeypatch) -> None:
    from core.tuning.base import get_backend

    with pytest.raises(UsageError, match="lora_rnk.*unknown"):
        get_backend("local").start(dataset_store, "d", {"base": str(tiny), "lora_rnk": 4})
    with pytest.raises(UsageError, match="epochs: must be at least 1"):
        get_backend("local").start(dataset_store, "d", {"base": str(tiny), "epochs": 0})
    assert job_store.list_jobs(dataset_store) == []  # nothing half made
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(UsageError, match=r"peft not installed.*attune-studio\[local\]"):
        get_backend("local").start(dataset_store, "d", {"base": str(tiny)})
