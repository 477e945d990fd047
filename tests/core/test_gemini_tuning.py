"""Tuning on Vertex AI through the real google-genai and google-cloud-storage clients, against the fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import egress
from core.datasets.builder import export_dataset
from core.errors import UsageError
from core import gemini_connection as gconn
from core.generation import gemini
from core.store import Store, open_store
from core.store import egress_log
from core.store import jobs as job_store
from core.store import responses as resp_store
from core.tuning import vertex
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import fake, gstore  # noqa: F401 - fixtures

SETTINGS = vertex.TuneSettings(epochs=2, display_name="therapist-v1")


def _start(store: Store) -> job_store.JobRecord:
    conn = gconn.load(store)
    manifest = vertex.plan(store, "d", conn, SETTINGS)
    return vertex.start(store, egress.confirm(manifest, yes=True), conn, SETTINGS)


def _follow(store: Store, job_id: int) -> job_store.JobRecord:
    return vertex.follow(store, job_id, gconn.load(store), sleep=lambda s: None)


def test_tune_uploads_exactly_the_exported_files_and_follows_the_job_to_success(
    gstore: Store, fake: FakeGoogle, tmp_path: Path
) -> None:
    job = _start(gstore)
    export_dataset(gstore, "d", tmp_path / "export")
    uploaded = {k.rsplit("/", 1)[1]: v for k, v in fake.objects.items()}
    assert set(uploaded) == {"vertex_train.jsonl", "vertex_validation.jsonl"}
    for name, data in uploaded.items():
        assert data == (tmp_path / "export" / name).read_bytes()
    # the create request names what was uploaded, with the settings
    create = json.loads(next(r for r in fake.requests if r.path.endswith("/tuningJobs")).body)
    spec = create["supervisedTuningSpec"]
    assert spec["trainingDatasetUri"] == job.settings["uris"]["vertex_train.jsonl"]
    assert spec["validationDatasetUri"].endswith("/vertex_validation.jsonl")
    assert spec["hyperParameters"]["epochCount"] == 2 and create["tunedModelDisplayName"] == "therapist-v1"
    assert job.state == "pending" and job.remote_name.endswith("/tuningJobs/101")
    done = _follow(gstore, job.id)
    assert done.state == "succeeded" and done.output == "projects/proj/locations/us-central1/endpoints/1019"
    assert done.metrics["data_stats"]["total_billable_token_count"] == 4560
    system = resp_store.get_system(gstore, f"vertex-job-{job.id}")
    assert system.kind == "tuned_model" and system.provenance["model"] == done.output
    # every upload is in the egress log with the hash of what was sent
    log = egress_log.entries(gstore)
    assert sorted(e.destination.rsplit("/", 1)[1] for e in log) == sorted(uploaded)
    import hashlib
    assert {e.content_hash for e in log} == {
        hashlib.sha256(f"{n}\x00{hashlib.sha256(d).hexdigest()}\n".encode()).hexdigest() for n, d in uploaded.items()
    }


def test_generation_from_the_tuned_endpoint(gstore: Store, fake: FakeGoogle) -> None:
    job = _follow(gstore, _start(gstore).id)
    target = gemini.tuned_target(gstore, job.id)
    conn = gconn.load(gstore)
    manifest = gemini.plan(gstore, "d", target, conn)
    result = gemini.run(gstore, egress.confirm(manifest, yes=True), conn, target)
    assert result.outcomes["ok"] == len(manifest.payloads) > 0
    paths = {r.path for r in fake.requests if r.path.endswith(":generateContent")}
    assert paths == {"/v1beta1/projects/proj/locations/us-central1/endpoints/1019:generateContent"}


def test_a_failed_job_stores_its_error(gstore: Store, fake: FakeGoogle) -> None:
    fake.tune_outcome = "failed"
    job = _follow(gstore, _start(gstore).id)
    assert job.state == "failed" and "Dataset validation failed" in job.error
    assert resp_store.find_system(gstore, f"vertex-job-{job.id}") is None
    with pytest.raises(UsageError, match="only a succeeded job"):
        gemini.tuned_target(gstore, job.id)


def test_a_refused_create_marks_the_job_failed(gstore: Store, fake: FakeGoogle) -> None:
    fake.fail("tune", 400)
    with pytest.raises(UsageError, match="refused the tuning job"):
        _start(gstore)
    (job,) = job_store.list_jobs(gstore, backend="vertex")
    assert job.state == "failed" and "400" in job.error


def test_cancel(gstore: Store, fake: FakeGoogle) -> None:
    fake.tune_polls = 100
    job = _start(gstore)
    job = vertex.cancel(gstore, job.id, gconn.load(gstore))
    assert job.state == "cancelled" and job.error
    assert any(r.path.endswith(":cancel") for r in fake.requests)
    with pytest.raises(UsageError, match="already cancelled"):
        vertex.cancel(gstore, job.id, gconn.load(gstore))


def test_polling_resumes_after_a_restart(gstore: Store, fake: FakeGoogle) -> None:
    job = _start(gstore)
    path = gstore.path
    gstore.close()
    store = open_store(path.parent if path.is_file() else path)
    try:
        fake.tune_polls = 1
        (resumed,) = vertex.resume(store, gconn.load(store))
        assert resumed.id == job.id and resumed.state == "succeeded"
        assert vertex.resume(store, gconn.load(store)) == []
    finally:
        store.close()


def test_transient_poll_errors_only_lengthen_the_wait(gstore: Store, fake: FakeGoogle) -> None:
    job = _start(gstore)
    fake.fail("get", 503, 429)
    waits: list[float] = []
    done = vertex.follow(gstore, job.id, gconn.load(gstore), sleep=waits.append, first_delay_s=1, max_delay_s=8)
    assert done.state == "succeeded"
    assert waits[:2] == [2, 4]  # nothing changed: the wait doubles


def test_refused_without_confirmation_uploads_nothing(gstore: Store, fake: FakeGoogle) -> None:
    manifest = vertex.plan(gstore, "d", gconn.load(gstore), SETTINGS)
    with pytest.raises(egress.EgressRefused):
        egress.confirm(manifest)
    with pytest.raises(egress.EgressRefused):
        egress.Approval(manifest, "forged")
    assert fake.requests == [] and fake.objects == {}


def test_the_shared_backend_interface(gstore: Store, fake: FakeGoogle) -> None:
    from core.tuning.base import get_backend

    backend = get_backend("vertex")
    with pytest.raises(egress.EgressRefused):
        backend.start(gstore, "d", {"epochs": 2})
    assert fake.requests == []
    approval = egress.confirm(vertex.plan(gstore, "d", gconn.load(gstore), SETTINGS), yes=True)
    job = backend.start(gstore, "d", {"approval": approval, "epochs": 2, "display_name": "therapist-v1"})
    assert job.backend == "vertex" and job.settings["epochs"] == 2
    job = backend.poll(gstore, job)
    job = backend.resume(gstore, job)
    assert job.state == "succeeded"
