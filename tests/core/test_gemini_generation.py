"""Generation through the real google-genai client against the fake Vertex AI on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from core import egress
from core import gemini_connection as gconn
from core.generation import gemini
from core.progress import TaskState
from core.store import Store
from core.store import datasets as ds_store
from core.store import egress_log
from core.store import responses as resp_store
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import fake, gstore  # noqa: F401 - fixtures

FAST = gemini.Settings(initial_delay_s=0.01, max_delay_s=0.05)
TARGET = gemini.base_target("gemini-2.5-flash")


def _go(store: Store, settings: gemini.Settings = FAST, **kw) -> gemini.RunResult:
    conn = gconn.load(store)
    manifest = gemini.plan(store, "d", TARGET, conn)
    return gemini.run(store, egress.confirm(manifest, yes=True), conn, TARGET, settings, **kw)


def _replies(store: Store) -> dict[str, resp_store.StoredReply]:
    system = resp_store.get_system(store, TARGET.system)
    return resp_store.replies_for_dataset(store, system.id, ds_store.get_dataset(store, "d").id)


def _test_ids(store: Store) -> list[str]:
    conn = gconn.load(store)
    return [p.name for p in gemini.plan(store, "d", TARGET, conn).payloads]


def _prompt_end(store: Store, example_id: str) -> str:
    conn = gconn.load(store)
    payload = next(p for p in gemini.plan(store, "d", TARGET, conn).payloads if p.name == example_id)
    return json.loads(payload.data)["contents"][-1]["parts"][-1]["text"][-60:]


def test_every_test_item_gets_a_stored_reply(gstore: Store, fake: FakeGoogle) -> None:
    ids = _test_ids(gstore)
    assert len(ids) >= 10
    result = _go(gstore)
    replies = _replies(gstore)
    assert set(replies) == set(ids)
    assert result.outcomes["ok"] == len(ids) == fake.generate_calls
    assert all(r.state == "ok" and "hard for you" in r.text for r in replies.values())
    # the requests went to the Vertex publisher model path, with the recorded settings
    req = next(r for r in fake.requests if r.path.endswith(":generateContent"))
    assert req.path == "/v1beta1/projects/proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    body = json.loads(req.body)
    assert body["generationConfig"]["temperature"] == 0.0 and body["generationConfig"]["seed"] == 0
    assert body["systemInstruction"]["parts"][0]["text"]
    thinking = body["generationConfig"]["thinkingConfig"]
    assert thinking.get("thinkingBudget", thinking.get("thinking_budget")) == 0
    # each reply keeps what decided it
    system = resp_store.get_system(gstore, TARGET.system)
    row = gstore.conn.execute("SELECT provenance FROM responses WHERE system_id = ? LIMIT 1", [system.id]).fetchone()
    provenance = json.loads(row[0])
    assert provenance["seed"] == 0 and provenance["model_version"] == "fake-001" and provenance["usage"]
    log = egress_log.entries(gstore)
    assert [e.kind for e in log] == ["generation"] and log[0].examples == len(ids)


def test_blocked_prompt_safety_stop_and_empty_reply_are_outcomes_not_stops(gstore: Store, fake: FakeGoogle) -> None:
    ids = _test_ids(gstore)
    blocked, unsafe, empty = ids[0], ids[1], ids[2]
    fake.on(_prompt_end(gstore, blocked), "block")
    fake.on(_prompt_end(gstore, unsafe), "unsafe")
    fake.on(_prompt_end(gstore, empty), "empty")
    result = _go(gstore)
    replies = _replies(gstore)
    assert set(replies) == set(ids)
    assert replies[blocked].state == "blocked"
    assert json.loads(replies[blocked].detail)["outcome"] == "blocked_prompt"
    assert json.loads(replies[blocked].detail)["reason"] == "SAFETY"
    assert replies[unsafe].state == "blocked" and json.loads(replies[unsafe].detail)["outcome"] == "safety_stop"
    assert replies[empty].state == "empty" and json.loads(replies[empty].detail)["outcome"] == "empty"
    assert result.outcomes["blocked_prompt"] == result.outcomes["safety_stop"] == result.outcomes["empty"] == 1
    assert result.outcomes["ok"] == len(ids) - 3


def test_429_then_success_waits_the_servers_delay(gstore: Store, fake: FakeGoogle) -> None:
    fake.fail("generate", 429, retry_delay="0.4s")
    started = time.monotonic()
    result = _go(gstore, gemini.Settings(initial_delay_s=0.01, max_delay_s=0.05, concurrency=1))
    assert time.monotonic() - started >= 0.4
    assert result.retries == 1 and result.outcomes["ok"] == len(_replies(gstore))
    assert all(r.state == "ok" for r in _replies(gstore).values())


def test_a_burst_of_503s_is_retried(gstore: Store, fake: FakeGoogle) -> None:
    fake.fail("generate", *[503] * 12)
    result = _go(gstore)
    assert result.retries == 12
    assert set(result.outcomes) == {"ok"}


def test_errors_that_outlive_retries_are_stored_counted_and_filled_by_a_rerun(gstore: Store, fake: FakeGoogle) -> None:
    fake.fail("generate", 400, 400)  # not retryable
    result = _go(gstore, gemini.Settings(concurrency=1))
    assert result.outcomes["error"] == 2
    errors = {k for k, r in _replies(gstore).items() if r.detail and json.loads(r.detail)["outcome"] == "error"}
    assert len(errors) == 2 and "400" in json.loads(_replies(gstore)[min(errors)].detail)["reason"]
    calls = fake.generate_calls
    again = _go(gstore)
    assert again.sent == 2 and again.outcomes["ok"] == 2 and fake.generate_calls == calls + 2


def test_timeout_is_retried_then_stored_as_an_error(gstore: Store, fake: FakeGoogle) -> None:
    gconn.update(gstore, timeout_s=0.3)
    ids = _test_ids(gstore)
    fake.hang_s = 1.5
    fake.on(_prompt_end(gstore, ids[0]), "hang")
    result = _go(gstore, gemini.Settings(max_attempts=2, initial_delay_s=0.01))
    detail = json.loads(_replies(gstore)[ids[0]].detail)
    assert detail["outcome"] == "error" and detail["reason"].startswith("timeout")
    assert result.retries >= 1 and result.outcomes["ok"] == len(ids) - 1


def test_concurrency_is_bounded(gstore: Store, fake: FakeGoogle) -> None:
    fake.delay_s = 0.05
    _go(gstore, gemini.Settings(concurrency=3))
    assert fake.max_concurrent == 3


def test_cancel_keeps_what_arrived_and_a_rerun_only_fills_the_gaps(gstore: Store, fake: FakeGoogle) -> None:
    ids = _test_ids(gstore)
    fake.delay_s = 0.02
    state = TaskState()
    seen: list[str] = []

    def on_reply(eid: str, outcome: str) -> None:
        seen.append(eid)
        if len(seen) >= 4:
            state.cancel()

    first = _go(gstore, gemini.Settings(concurrency=2), state=state, on_reply=on_reply)
    assert first.cancelled
    stored = set(_replies(gstore))
    assert 4 <= len(stored) < len(ids)
    before = fake.generate_calls
    second = _go(gstore)
    assert second.skipped == len(stored) and second.sent == len(ids) - len(stored)
    assert set(_replies(gstore)) == set(ids)
    assert fake.generate_calls - before == len(ids) - len(stored)
    third = _go(gstore)
    assert third.sent == 0 and fake.generate_calls - before == len(ids) - len(stored)


def test_rate_limit_spaces_requests(gstore: Store, fake: FakeGoogle) -> None:
    n = len(_test_ids(gstore))
    started = time.monotonic()
    _go(gstore, gemini.Settings(requests_per_minute=600))  # one every 0.1 s
    assert time.monotonic() - started >= (n - 1) * 0.1 * 0.9


def test_refused_without_confirmation_sends_nothing(gstore: Store, fake: FakeGoogle) -> None:
    conn = gconn.load(gstore)
    manifest = gemini.plan(gstore, "d", TARGET, conn)
    with pytest.raises(egress.EgressRefused):
        egress.confirm(manifest)
    with pytest.raises(egress.EgressRefused):
        egress.confirm(manifest, ask=lambda m: False)
    assert fake.requests == [] and egress_log.entries(gstore) == []


def test_gemini_api_with_a_keychain_key_when_no_project(gstore: Store, fake: FakeGoogle, monkeypatch) -> None:
    monkeypatch.setattr(gconn, "api_key", lambda: "key-from-keychain")
    gconn.save(gstore, gconn.Connection())  # no project: the Gemini Developer API
    result = _go(gstore)
    assert result.outcomes["ok"] == len(_replies(gstore)) > 0
    req = next(r for r in fake.requests if r.path.endswith(":generateContent"))
    assert req.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert req.headers["x-goog-api-key"] == "key-from-keychain"
    (entry,) = egress_log.entries(gstore)
    assert entry.destination == "gemini-api:gemini-2.5-flash" and entry.detail["service"] == "gemini-api"


def test_no_connection_is_one_clear_error(gstore: Store, monkeypatch) -> None:
    from core.errors import UsageError

    monkeypatch.setattr(gconn, "api_key", lambda: None)
    gconn.save(gstore, gconn.Connection())
    with pytest.raises(UsageError, match="not connected"):
        gemini.plan(gstore, "d", TARGET, gconn.load(gstore))
