"""`attune connect`, `attune egress-log` and the Vertex backend of tune/generate, end to end against the fake."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from cli import vertex_cmds
from core.store import open_store
from core.store import egress_log
from core.store import jobs as job_store
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import fake, make_workspace  # noqa: F401 - fixture


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "ws"
    make_workspace(ws).close()
    yield ws


def _args(home: Path, **kw) -> argparse.Namespace:
    base = {"home": str(home), "command": None, "dataset": "d", "yes": True, "show_hits": False,
            "base_model": None, "epochs": None, "adapter_size": "ADAPTER_SIZE_FOUR", "lr_multiplier": 1.0,
            "display_name": "", "price": None, "price_date": ""}
    return argparse.Namespace(**{**base, **kw})


def _connect(home: Path) -> None:
    assert main(["--home", str(home), "connect", "--project", "proj", "--bucket", "bkt",
                 "--access-token-file", str(home / "token")]) == 0


def test_connect_saves_settings_and_tests_each_part(home: Path, fake: FakeGoogle, capsys) -> None:
    _connect(home)
    out = capsys.readouterr().out
    assert "project:  proj" in out and "region:   us-central1" in out and "gs://bkt/attune" in out
    assert main(["--home", str(home), "connect", "--test"]) == 0
    out = capsys.readouterr().out
    assert "ok    credentials" in out and "ok    bucket" in out and "ok    vertex" in out
    fake.fail("bucket", 403)
    assert main(["--home", str(home), "connect", "--test"]) == 1
    assert "FAIL  bucket" in capsys.readouterr().out


def test_the_access_token_is_never_stored(home: Path, fake: FakeGoogle, monkeypatch) -> None:
    monkeypatch.setenv("ATTUNE_ACCESS_TOKEN", "secret-token-xyz")
    _connect(home)
    for path in home.rglob("*"):
        if path.is_file():
            assert b"secret-token-xyz" not in path.read_bytes(), path


def test_tune_start_status_and_generate_from_the_tuned_job(home: Path, fake: FakeGoogle, capsys) -> None:
    _connect(home)
    assert vertex_cmds.tune_start(_args(home)) == 0
    err = capsys.readouterr().err
    assert "OFF THIS MACHINE" in err and "identifier scan" in err and "estimated cost" in err
    assert vertex_cmds.tune_status(_args(home), None) == 0
    assert vertex_cmds.tune_status(_args(home), 1, follow=False) == 0
    out = capsys.readouterr().out
    assert "job 1 (vertex, gemini-2.5-flash): succeeded" in out and "endpoints/1019" in out
    assert vertex_cmds.generate(_args(home, system="vertex:1", concurrency=4)) == 0
    out = capsys.readouterr().out
    assert "system vertex-job-1:" in out and "error 0" in out
    assert vertex_cmds.generate(_args(home, system="vertex:1", concurrency=4)) == 0
    assert "already has a reply" in capsys.readouterr().out
    assert main(["--home", str(home), "egress-log", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["generation", "upload", "upload"]


def test_without_yes_and_no_terminal_nothing_is_sent(home: Path, fake: FakeGoogle, capsys) -> None:
    _connect(home)
    from core.egress import EgressRefused

    with pytest.raises(EgressRefused):
        vertex_cmds.tune_start(_args(home, yes=False))
    with pytest.raises(EgressRefused):
        vertex_cmds.generate(_args(home, yes=False, system="gemini:gemini-2.5-flash", concurrency=2))
    assert fake.requests == [] and fake.objects == {}
    store = open_store(home)
    try:
        assert egress_log.entries(store) == [] and job_store.list_jobs(store) == []
    finally:
        store.close()


def test_preflight_counts_and_prices(home: Path, fake: FakeGoogle, capsys) -> None:
    _connect(home)
    assert vertex_cmds.tune_preflight(_args(home, epochs=2, price=2.0, price_date="2026-11-30")) == 0
    out = capsys.readouterr().out
    assert "vertex_train.jsonl:" in out and "at $2 per million tokens (price of 2026-11-30)" in out
    assert "warning: only" in out  # a small dataset
    assert fake.requests == []  # the estimate is offline


def test_egress_log_when_nothing_left(home: Path, capsys) -> None:
    assert main(["--home", str(home), "egress-log"]) == 0
    assert "nothing has left this machine" in capsys.readouterr().out


def test_exact_preflight_counts_on_vertex_behind_the_gate(home: Path, fake: FakeGoogle, capsys) -> None:
    _connect(home)
    with pytest.raises(Exception, match="confirmation"):
        vertex_cmds.tune_preflight(_args(home, exact=True, yes=False))
    assert fake.requests == []
    assert vertex_cmds.tune_preflight(_args(home, exact=True)) == 0
    out = capsys.readouterr().out
    assert "~" not in out.split("billable")[0] and "tokens" in out
    counted = [r for r in fake.requests if r.path.endswith(":countTokens")]
    assert counted and json.loads(counted[0].body)["systemInstruction"]
    store = open_store(home)
    try:
        assert {e.kind for e in egress_log.entries(store)} == {"count_tokens"}
    finally:
        store.close()


def test_the_commands_end_to_end(home: Path, fake: FakeGoogle, capsys) -> None:
    """The "done when": tune start uploads and creates, status follows to success, generate answers all."""
    _connect(home)
    h = ["--home", str(home)]
    assert main([*h, "tune", "preflight", "d", "--backend", "vertex"]) == 0
    assert main([*h, "tune", "start", "d", "--backend", "vertex"]) == 1  # no terminal, no --yes: refused
    assert "not sent" in capsys.readouterr().err and fake.objects == {}
    assert main([*h, "tune", "start", "d", "--backend", "vertex", "--epochs", "2", "--yes"]) == 0
    assert len(fake.objects) == 2
    assert main([*h, "tune", "status"]) == 0
    assert main([*h, "tune", "status", "1"]) == 0
    assert "succeeded" in capsys.readouterr().out
    assert main([*h, "generate", "d", "--system", "tuned:1", "--concurrency", "3", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "system vertex-job-1:" in out and "error 0" in out
    assert main([*h, "systems"]) == 0
    assert "vertex-job-1" in capsys.readouterr().out
    assert main([*h, "egress-log"]) == 0
    out = capsys.readouterr().out
    assert out.count("upload") == 2 and out.count("generation") == 1
