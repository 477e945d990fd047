"""The Tune page follows Vertex AI jobs in the background (fake Google): to success, after a restart,
through failures, with backoff; Cancel asks the service; the egress log shows every upload."""

from __future__ import annotations

from pathlib import Path

from core import egress
from core import gemini_connection as gconn
from core.store import Store, egress_log
from core.store import jobs as job_store
from core.store import responses as resp_store
from core.tuning import vertex
from tests.desktop.tune_helpers import answer_egress, close_page, job_state, open_page
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import fake, gstore  # noqa: F401 - fixtures

SETTINGS = vertex.TuneSettings(epochs=2)


def _job_on_vertex(store: Store) -> job_store.JobRecord:
    """A job created the way `attune tune start --yes` creates it, before the app opens."""
    conn = gconn.load(store)
    return vertex.start(store, egress.confirm(vertex.plan(store, "d", conn, SETTINGS), yes=True), conn, SETTINGS)


def _job_gets(fake: FakeGoogle) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and "/tuningJobs/" in r.path)


def test_started_job_is_followed_to_success_and_becomes_a_system(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    fake.tune_polls = 3
    page, taskman = open_page(qtbot, tmp_path / "ws")
    try:
        page.vertex_base.setCurrentText("gemini-2.5-flash-lite")
        page.adapter_size.setCurrentIndex(page.adapter_size.findData("ADAPTER_SIZE_EIGHT"))
        page.lr_multiplier.setValue(0.5)
        page.display_name.setText("therapist-gui")
        page.epochs.setValue(4)
        seen: list = []
        timer = answer_egress("send_button", seen)
        page.start_button.click()
        qtbot.waitUntil(lambda: job_state(page) == "succeeded", timeout=30_000)
        timer.stop()
        assert len(seen) == 1 and seen[0].fields["model"].text() == "gemini-2.5-flash-lite"
        # the settings of the form went into the create request
        create = next(r for r in fake.requests if r.method == "POST" and r.path.endswith("/tuningJobs"))
        import json
        body = json.loads(create.body)
        hyper = body["supervisedTuningSpec"]["hyperParameters"]
        assert body["baseModel"] == "gemini-2.5-flash-lite" and body["tunedModelDisplayName"] == "therapist-gui"
        assert hyper["epochCount"] == 4 and hyper["adapterSize"] == "ADAPTER_SIZE_EIGHT"
        assert hyper["learningRateMultiplier"] == 0.5
        assert _job_gets(fake) >= 3  # polled until the service said it succeeded
        page.table.selectRow(0)
        text = page.detail.text()
        (job,) = job_store.list_jobs(gstore)
        assert "[JOB_STATE_SUCCEEDED]" in text and "end time: 2026-11-30T11:00:00" in text
        assert "tuning dataset example count: 3" in text and "total billable token count: 4560" in text
        assert f"tuned endpoint: {job.output}" in text and job.system_name == f"vertex-job-{job.id}"
        assert resp_store.find_system(gstore, job.system_name).kind == "tuned_model"
        assert page.gemini_system.findText(f"vertex:{job.id}") >= 0
        assert page.generate_tuned_button.isEnabled()
        assert job.id not in page.follower.jobs  # finished: no more polls
        polls = _job_gets(fake)
        qtbot.wait(300)
        assert _job_gets(fake) == polls
    finally:
        close_page(qtbot, page, taskman)


def test_unfinished_job_is_polled_again_when_the_app_opens(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    job = _job_on_vertex(gstore)
    assert job.state == "pending" and _job_gets(fake) == 0
    fake.tune_polls = 2
    page, taskman = open_page(qtbot, tmp_path / "ws", vertex=False)
    try:
        qtbot.waitUntil(lambda: job_state(page) == "succeeded", timeout=30_000)
        assert job_store.get_job(gstore, job.id).system_name == f"vertex-job-{job.id}"
    finally:
        close_page(qtbot, page, taskman)


def test_backoff_doubles_while_the_job_does_not_move(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    job = _job_on_vertex(gstore)
    fake.tune_polls = 1000
    page, taskman = open_page(qtbot, tmp_path / "ws", first_delay_s=0.05, max_delay_s=0.4)
    try:
        qtbot.waitUntil(lambda: page.follower.polls >= 1, timeout=15_000)
        # pending → running is a move: the wait starts again from the first delay
        assert page.follower.delay[job.id] == 0.05
        qtbot.waitUntil(lambda: page.follower.polls >= 5, timeout=15_000)
        assert page.follower.delay[job.id] == 0.4  # 0.1, 0.2, 0.4, then capped
        from desktop.tuning import vertex_follower
        # the app's defaults are the command line's (`attune tune status --follow`)
        assert (vertex_follower.FIRST_DELAY_S, vertex_follower.MAX_DELAY_S) == (vertex.FIRST_POLL_S, vertex.MAX_POLL_S)
        assert job_state(page) == "running"
        page.table.selectRow(0)
        assert "next check in" in page.detail.text()
    finally:
        close_page(qtbot, page, taskman)


def test_failed_polls_are_shown_and_polling_goes_on(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    job = _job_on_vertex(gstore)
    fake.tune_polls = 2
    fake.fail("get", 503, 400)
    page, taskman = open_page(qtbot, tmp_path / "ws", first_delay_s=0.05, max_delay_s=1.5)
    try:
        # a 503 only lengthens the wait; a 400 is not transient: shown, next try after the longest wait
        qtbot.waitUntil(lambda: "400" in page.follower.errors.get(job.id, ""), timeout=15_000)
        assert job_state(page) == "pending (check failed)"
        page.table.selectRow(0)
        assert "checking on Vertex AI failed: 400" in page.detail.text()
        qtbot.waitUntil(lambda: job_state(page) == "succeeded", timeout=15_000)
        assert job.id not in page.follower.errors
    finally:
        close_page(qtbot, page, taskman)


def test_a_failed_job_shows_the_service_error(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    fake.tune_outcome = "failed"
    job = _job_on_vertex(gstore)
    page, taskman = open_page(qtbot, tmp_path / "ws")
    try:
        qtbot.waitUntil(lambda: job_state(page) == "failed", timeout=15_000)
        page.table.selectRow(0)
        assert "error: 3: Dataset validation failed" in page.detail.text()
        assert not page.generate_tuned_button.isEnabled() and not page.cancel_button.isEnabled()
        assert resp_store.find_system(gstore, f"vertex-job-{job.id}") is None
    finally:
        close_page(qtbot, page, taskman)


def test_cancel_from_the_page_asks_the_service(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    job = _job_on_vertex(gstore)
    fake.tune_polls = 1000
    page, taskman = open_page(qtbot, tmp_path / "ws", first_delay_s=5, max_delay_s=5)
    try:
        qtbot.waitUntil(lambda: job_state(page) == "running", timeout=15_000)
        page.table.selectRow(0)
        assert page.cancel_button.isEnabled()
        page.cancel_button.click()
        qtbot.waitUntil(lambda: job_state(page) == "cancelled", timeout=15_000)
        assert [r.path for r in fake.requests if r.path.endswith(":cancel")] == [
            f"/v1beta1/{job.remote_name}:cancel"]
        stored = job_store.get_job(gstore, job.id)
        assert stored.state == "cancelled" and "CANCELED" in stored.error
        page.table.selectRow(0)
        assert "CANCELED" in page.detail.text() and not page.cancel_button.isEnabled()
        assert job.id not in page.follower.jobs
    finally:
        close_page(qtbot, page, taskman)


def test_preflight_figures_before_start_and_the_price_is_kept(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    page, taskman = open_page(qtbot, tmp_path / "ws")
    try:
        qtbot.waitUntil(lambda: "billable training tokens" in page.preflight.text(), timeout=15_000)
        manifest = egress.upload_manifest(gstore, "d", vertex.destination(gconn.load(gstore), "gemini-2.5-flash"))
        report = vertex.preflight(gstore, manifest, vertex.TuneSettings(epochs=3))
        text = page.preflight.text()
        for line in report.lines():
            assert line in text
        assert "only" in text and "training examples" in text  # the warning under ~100 examples
        assert "identifier scan: name" in text
        assert page.price.value() == vertex.PRICE_PER_MILLION["gemini-2.5-flash"]
        # a new price is kept in the workspace and used for the estimate
        page.price.setValue(7.5)
        page.price.editingFinished.emit()
        qtbot.waitUntil(lambda: "at $7.5 per million" in page.preflight.text(), timeout=15_000)
        assert vertex.price(gstore, "gemini-2.5-flash")[0] == 7.5
        page.epochs.setValue(6)
        cost = report.billable_tokens * 2 / 1e6 * 7.5  # twice the epochs
        qtbot.waitUntil(lambda: f"${cost:.2f}" in page.preflight.text(), timeout=15_000)
        assert fake.requests == [] and egress_log.entries(gstore) == []  # the preflight sends nothing
    finally:
        close_page(qtbot, page, taskman)


def test_egress_log_dialog_lists_every_upload(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from desktop.egress_log_dialog import EgressLogDialog

    _job_on_vertex(gstore)
    entries = egress_log.entries(gstore)
    assert len(entries) == 2
    page, taskman = open_page(qtbot, tmp_path / "ws", first_delay_s=60, max_delay_s=60)
    try:
        page.egress_log_button.click()
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, EgressLogDialog))
        qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10_000)
        for row, e in enumerate(entries):  # newest first, as `attune egress-log`
            cells = [dialog.table.item(row, c).text() for c in range(dialog.table.columnCount())]
            assert cells == [e.at, "upload", str(e.examples), str(e.bytes), e.destination, e.what,
                             e.content_hash[:16]]
        dialog.table.selectRow(1)
        detail = dialog.detail.toPlainText()
        assert entries[1].content_hash in detail and "confirmed_by: --yes" in detail
        assert '"email":' in detail  # the identifier scan's counts
        assert "2 sends" in dialog.summary.text()
        dialog.close()
    finally:
        close_page(qtbot, page, taskman)


def test_exact_token_counts_ask_first(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    page, taskman = open_page(qtbot, tmp_path / "ws")
    try:
        qtbot.waitUntil(lambda: "~" in page.preflight.text(), timeout=15_000)  # the offline estimate
        seen: list = []
        timer = answer_egress("cancel_button", seen)
        page.count_button.click()
        qtbot.waitUntil(lambda: len(seen) == 1 and page.count_button.isEnabled(), timeout=15_000)
        timer.stop()
        assert fake.requests == [] and egress_log.entries(gstore) == []

        timer = answer_egress("send_button", seen)
        page.count_button.click()
        qtbot.waitUntil(lambda: page.exact_tokens is not None and "~" not in page.preflight.text(), timeout=30_000)
        timer.stop()
        counts = [r for r in fake.requests if r.path.endswith(":countTokens")]
        assert len(counts) == seen[1].manifest.examples  # one call per training and validation example
        assert page.exact_tokens["vertex_train.jsonl"] > 0
        assert "vertex_train.jsonl: " in page.preflight.text()
        assert f"{page.exact_tokens['vertex_train.jsonl']} tokens" in page.preflight.text()
        assert {e.kind for e in egress_log.entries(gstore)} == {"count_tokens"}
    finally:
        close_page(qtbot, page, taskman)


def test_declined_start_sends_nothing_at_all(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    page, taskman = open_page(qtbot, tmp_path / "ws")
    try:
        seen: list = []
        timer = answer_egress("cancel_button", seen)
        page.start_button.click()
        qtbot.waitUntil(lambda: "not sent" in page.detail.text(), timeout=15_000)
        timer.stop()
        qtbot.wait(200)  # room for anything that would have gone out late
        assert len(seen) == 1 and fake.requests == []
        assert job_store.list_jobs(gstore) == [] and egress_log.entries(gstore) == []
    finally:
        close_page(qtbot, page, taskman)
