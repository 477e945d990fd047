"""Generate with Gemini from the Tune page (fake Google): nothing leaves without the egress dialog's Send;
outcomes are counted; Cancel keeps what came back; a rerun only fills the gaps; tuned endpoints too."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QApplication, QProgressDialog

from core import egress
from core import gemini_connection as gconn
from core.store import Store, egress_log
from core.store import datasets as ds_store
from core.store import responses as resp_store
from core.tuning import vertex
from tests.desktop.tune_helpers import answer_egress, close_page, open_page
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import EXCLUDED_WORD, REDACTED_WORD, fake, gstore  # noqa: F401 - fixtures

SYSTEM = "gemini-2.5-flash"


def _prompts(store: Store) -> list[tuple[str, str]]:
    """(example id, last text of its prompt) for every test item."""
    m = egress.generation_manifest(store, "d", egress.Destination("vertex", model=SYSTEM))
    return [(p.name, json.loads(p.data)["contents"][-1]["parts"][-1]["text"]) for p in m.payloads]


def _replies(store: Store, system: str) -> dict:
    found = resp_store.find_system(store, system)
    if found is None:
        return {}
    return resp_store.replies_for_dataset(store, found.id, ds_store.get_dataset(store, "d").id)


def _generate_calls(fake: FakeGoogle) -> list:
    return [r for r in fake.requests if r.path.endswith(":generateContent")]


def test_declining_sends_nothing(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    page, taskman = open_page(qtbot, tmp_path / "ws", vertex=False)
    try:
        seen: list = []
        timer = answer_egress("cancel_button", seen)
        page.gemini_system.setCurrentText(f"gemini:{SYSTEM}")
        page.generate_gemini_button.click()
        qtbot.waitUntil(lambda: "not sent" in page.gemini_result.text(), timeout=15_000)
        timer.stop()
        assert len(seen) == 1
        assert seen[0].fields["model"].text() == SYSTEM and seen[0].fields["project"].text() == "proj"
        assert seen[0].fields["examples"].text() == str(len(_prompts(gstore)))
        assert fake.requests == []  # the fake server saw nothing at all
        assert egress_log.entries(gstore) == [] and resp_store.find_system(gstore, SYSTEM) is None
        assert page.generate_gemini_button.isEnabled()
    finally:
        close_page(qtbot, page, taskman)


def test_outcomes_are_counted_and_a_rerun_only_fills_the_gaps(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    prompts = _prompts(gstore)
    ends = [text[-40:] for _, text in prompts]
    # one request at a time, in item order: the first item gets the 400, three others are scripted
    unique = [e for e in ends[1:] if sum(other.endswith(e) for other in ends) == 1]
    assert len(unique) >= 3
    for end, behaviour in zip(unique, ("block", "unsafe", "empty")):
        fake.on(end, behaviour)
    fake.fail("generate", 400)  # fails for good (not retried: a 400 is not transient)
    page, taskman = open_page(qtbot, tmp_path / "ws", vertex=False)
    try:
        seen: list = []
        timer = answer_egress("send_button", seen)
        page.gemini_system.setCurrentText(f"gemini:{SYSTEM}")
        page.concurrency.setValue(1)
        page.temperature.setValue(0.3)
        page.max_output_tokens.setValue(256)
        page.generate_gemini_button.click()
        qtbot.waitUntil(lambda: " sent (" in page.gemini_result.text(), timeout=30_000)
        text = page.gemini_result.text()
        config = json.loads(_generate_calls(fake)[0].body)["generationConfig"]
        assert config["temperature"] == 0.3 and config["maxOutputTokens"] == 256
        n = len(prompts)
        assert text.startswith(f"{SYSTEM}: {n} sent (ok {n - 4}, empty 1, blocked prompt 1, safety stop 1, error 1)")
        assert len(_generate_calls(fake)) == n
        replies = _replies(gstore, SYSTEM)
        assert len(replies) == n  # a reply or an outcome for every test item
        states = sorted(r.state for r in replies.values())
        assert states.count("blocked") == 2 and states.count("ok") == n - 4
        # nothing withheld left the machine
        assert EXCLUDED_WORD not in fake.sent_text() and REDACTED_WORD not in fake.sent_text()
        (run,) = egress_log.entries(gstore)
        assert run.kind == "generation" and run.examples == n and run.detail["confirmed_by"] == "dialog"

        page.generate_gemini_button.click()  # the rerun: only the item that failed is asked again
        qtbot.waitUntil(lambda: len(seen) == 2, timeout=15_000)
        assert seen[1].fields["examples"].text() == "1"
        qtbot.waitUntil(lambda: "1 sent (ok 1" in page.gemini_result.text(), timeout=30_000)
        assert len(_generate_calls(fake)) == n + 1
        assert f"{n - 1} already done" in page.gemini_result.text()

        page.generate_gemini_button.click()  # nothing left: no dialog, nothing sent
        qtbot.waitUntil(lambda: "nothing to send" in page.gemini_result.text(), timeout=15_000)
        timer.stop()
        assert len(seen) == 2 and len(_generate_calls(fake)) == n + 1
    finally:
        close_page(qtbot, page, taskman)


def test_progress_shows_eta_and_cancel_keeps_what_came_back(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    fake.delay_s = 0.25
    n = len(_prompts(gstore))
    page, taskman = open_page(qtbot, tmp_path / "ws", vertex=False)
    try:
        timer = answer_egress("send_button", [])
        page.gemini_system.setCurrentText(f"gemini:{SYSTEM}")
        page.concurrency.setValue(1)
        page.generate_gemini_button.click()

        def progress() -> QProgressDialog | None:
            return next((w for w in QApplication.topLevelWidgets()
                         if isinstance(w, QProgressDialog) and w.isVisible()), None)

        qtbot.waitUntil(lambda: progress() is not None and "s left" in progress().labelText(), timeout=20_000)
        assert progress().maximum() == n
        from PySide6.QtWidgets import QPushButton
        (cancel,) = [b for b in progress().findChildren(QPushButton) if b.text() == "Cancel"]
        cancel.click()
        qtbot.waitUntil(lambda: "cancelled" in page.gemini_result.text(), timeout=20_000)
        timer.stop()
        kept = len(_replies(gstore, SYSTEM))
        assert 1 <= kept < n
        assert fake.max_concurrent == 1
        assert page.generate_gemini_button.isEnabled()
        # what is missing is what the next run would send
        conn = gconn.load(gstore)
        from core.generation import gemini
        assert len(gemini.plan(gstore, "d", gemini.base_target(SYSTEM), conn).payloads) == n - kept
    finally:
        close_page(qtbot, page, taskman)


def test_generate_tuned_replies_asks_the_tuned_endpoint(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    conn = gconn.load(gstore)
    settings = vertex.TuneSettings(epochs=1)
    job = vertex.start(gstore, egress.confirm(vertex.plan(gstore, "d", conn, settings), yes=True), conn, settings)
    job = vertex.follow(gstore, job.id, conn, sleep=lambda s: None)
    assert job.state == "succeeded"
    page, taskman = open_page(qtbot, tmp_path / "ws", vertex=False)
    try:
        qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=15_000)
        page.table.selectRow(0)
        assert page.generate_tuned_button.isEnabled()
        seen: list = []
        timer = answer_egress("send_button", seen)
        page.generate_tuned_button.click()
        qtbot.waitUntil(lambda: " sent (" in page.gemini_result.text(), timeout=30_000)
        timer.stop()
        assert seen[0].fields["model"].text() == job.output
        assert {r.path for r in _generate_calls(fake)} == {f"/v1beta1/{job.output}:generateContent"}
        assert page.gemini_result.text().startswith(f"vertex-job-{job.id}: ")
        assert len(_replies(gstore, f"vertex-job-{job.id}")) == len(_prompts(gstore))
    finally:
        close_page(qtbot, page, taskman)
