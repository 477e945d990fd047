"""The dataset page says how many examples an excluded client turn shortened and dropped."""

from __future__ import annotations

from pathlib import Path

from core import curation
from core.changes import OpChanges
from core.store import open_store
from core.store import datasets as ds_store
from core.store.decisions import ExcludeReason
from tests.desktop.test_dataset_page import WAIT_MS, home, page  # noqa: F401 - fixtures


def test_build_reports_contexts_cut_at_an_excluded_client_turn(qtbot, page, home: Path) -> None:  # noqa: F811
    with open_store(home) as store:
        target = next(c for c in ds_store.candidate_targets(store, 50) if c.prev_role == "client")
        client = store.conn.execute(
            "SELECT id FROM turns WHERE transcript_id = ? AND position < ? AND role = 'client' "
            "ORDER BY position DESC LIMIT 1", [target.transcript_id, target.position]).fetchone()[0]
        curation.exclude(store, [client], rater="r", reason=ExcludeReason.IDENTIFYING)
    before = page.preview
    page.op_executed(OpChanges(decisions=True), None)
    qtbot.waitUntil(lambda: page.preview is not before, timeout=WAIT_MS)
    page.name_edit.setText("withheld")
    page.build_button.click()
    qtbot.waitUntil(lambda: page.selected_dataset() == "withheld", timeout=WAIT_MS)
    with open_store(home) as store:
        cuts = ds_store.get_dataset(store, "withheld").counts["context_cuts"]
    dropped = cuts["dropped"]["identifying information"]
    shortened = cuts["shortened"].get("identifying information", 0)
    assert dropped >= 1  # the target right after the excluded client turn
    assert (f"Excluded turns (identifying information): {shortened} examples shortened, {dropped} dropped."
            in page.status_label.text())
