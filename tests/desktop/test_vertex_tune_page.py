"""The Tune page's Vertex backend: the egress dialog stands between Start and the upload (fake Google)."""

from __future__ import annotations

from pathlib import Path

from core.store import Store, egress_log
from core.store import jobs as job_store
from desktop.egress_dialog import EgressDialog
from tests.fakes.gemini_server import FakeGoogle
from tests.desktop.tune_helpers import answer_egress, open_page
from tests.fakes.gemini_workspace import fake, gstore, make_workspace  # noqa: F401 - fixtures


def _page(qtbot, home: Path):
    page, taskman = open_page(qtbot, home)
    assert page.start_button.isEnabled()
    return page, taskman


_answer = answer_egress


def test_cancel_sends_nothing_and_send_starts_the_job(qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path) -> None:
    page, taskman = _page(qtbot, tmp_path / "ws")
    try:
        seen: list[EgressDialog] = []
        timer = _answer("cancel_button", seen)
        page.start_button.click()
        qtbot.waitUntil(lambda: "not sent" in page.detail.text(), timeout=15_000)
        timer.stop()
        assert len(seen) == 1 and seen[0].fields["project"].text() == "proj"
        assert job_store.list_jobs(gstore) == [] and egress_log.entries(gstore) == []
        assert fake.objects == {} and page.start_button.isEnabled()

        timer = _answer("send_button", seen)
        page.start_button.click()
        qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=30_000)
        timer.stop()
        assert len(seen) == 2
        jobs = job_store.list_jobs(gstore)
        assert len(jobs) == 1 and jobs[0].backend == "vertex"
        assert any(k.startswith("bkt/attune/") and k.endswith("vertex_train.jsonl") for k in fake.objects)
        assert egress_log.entries(gstore)
    finally:
        page.close()
        taskman.shutdown()


def test_not_connected_names_attune_connect(qtbot, tmp_path: Path) -> None:
    make_workspace(tmp_path / "ws").close()
    page, taskman = _page(qtbot, tmp_path / "ws")
    try:
        page.start_button.click()
        qtbot.waitUntil(lambda: "attune connect" in page.detail.text(), timeout=15_000)
        assert page.start_button.isEnabled()
    finally:
        page.close()
        taskman.shutdown()
