"""The Dataset page, standalone: live counts, histogram, warnings, build and export through ops."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest


from core import curation
from core.changes import OpChanges
from core.datasets import DatasetRules, preview
from core.store import open_store
from core.store import datasets as ds_store
from core.store.decisions import ExcludeReason
from desktop import operations
from desktop.operations import OpBus
from desktop.taskman import TaskManager
from tests.core.datasets_fixtures import open_populated
from tests.core.test_datasets_export import check_folder

WAIT_MS = 15_000


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    open_populated(ws, n_sessions=60, seed=7).close()  # a copy of a template built once
    return ws


@pytest.fixture
def page(qtbot, home: Path) -> Iterator:
    from desktop.dataset_page import DatasetPage

    taskman = TaskManager(home)
    futures = track_futures(taskman)
    bus = OpBus()
    operations.install(taskman, bus)
    page = DatasetPage()
    bus.operation_did_execute.connect(page.op_executed)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitUntil(lambda: page.preview is not None, timeout=WAIT_MS)
    yield page
    settle(qtbot, futures)
    page.close()
    taskman.shutdown()


def track_futures(taskman: TaskManager) -> list:
    """Every database-thread job the page starts, so teardown can wait for them all.

    A job with a callback counts as done once its callback ran on the GUI thread.
    """
    futures: list = []
    run_on_db = taskman.run_on_db

    def tracking(fn, on_done=None, **kwargs):
        if on_done is None:
            fut = run_on_db(fn, None, **kwargs)
            futures.append(fut)
            return fut
        called: Future = Future()

        def then(f):
            try:
                on_done(f)
            finally:
                called.set_result(None)

        futures.append(called)
        return run_on_db(fn, then, **kwargs)

    taskman.run_on_db = tracking  # type: ignore[method-assign]
    return futures


def settle(qtbot, futures: list) -> None:
    # A finished op's callback may start another (build → list); wait until nothing is left.
    for _ in range(20):
        seen = len(futures)
        qtbot.waitUntil(lambda: all(f.done() for f in futures), timeout=WAIT_MS)
        if len(futures) == seen:
            return


def expected(home: Path, rules: DatasetRules):
    with open_store(home) as store:
        return preview(store, rules)


def test_live_counts_match_core_and_follow_the_rules(qtbot, page, home: Path) -> None:
    want = expected(home, DatasetRules())
    assert page.preview.splits == want.splits
    assert f"{want.targets} targets" in page.counts_label.text()
    assert f"{want.unreviewed_targets} of {want.targets} targets are still unreviewed" in page.unreviewed_label.text()
    assert page.category_table.rowCount() == len(want.by_category)
    # the histogram shows all turns vs the selected targets, the 8-word share and the min-words line
    assert page.histogram.all_lengths == want.all_lengths
    assert page.histogram.target_lengths == want.target_lengths
    assert page.histogram.min_words == 50
    assert f"{want.under_8_share:.0%} under 8 words" in page.histogram.summary()
    page.histogram.grab()  # paints without error

    before = page.preview
    page.min_words.setValue(30)
    qtbot.waitUntil(lambda: page.preview is not before and page.preview.rules.min_words == 30, timeout=WAIT_MS)
    want30 = expected(home, DatasetRules(min_words=30))
    assert page.preview.targets == want30.targets > want.targets
    assert page.histogram.min_words == 30
    assert all(w >= 30 for w in page.histogram.target_lengths)


def test_small_categories_are_warned_and_bad_splits_block_build(qtbot, page) -> None:
    small = [c for c, v in page.preview.by_category.items() if v["test"] < 10]
    assert small
    for cat in small:
        assert cat in page.warnings_label.text()
    page.split_spins[0].setValue(85)  # 85/10/10
    assert "split" in page.rules_error.text()
    assert not page.build_button.isEnabled()
    page.split_spins[0].setValue(80)
    assert page.rules_error.text() == "" and page.build_button.isEnabled()


def test_curation_changes_refresh_the_counts(qtbot, page, home: Path) -> None:
    target = None
    with open_store(home) as store:
        target = ds_store.candidate_targets(store, 50)[0].turn_id
        curation.exclude(store, [target], rater="r", reason=ExcludeReason.OTHER)
    before = page.preview
    page.op_executed(OpChanges(decisions=True), None)
    qtbot.waitUntil(lambda: page.preview is not before, timeout=WAIT_MS)
    assert page.preview.removed["excluded"] == 1
    assert "excluded by a rater: 1" in page.removed_label.text()


def test_build_then_export_through_ops(qtbot, page, home: Path, tmp_path: Path, monkeypatch) -> None:
    page.name_edit.setText("from-gui")
    page.seed.setValue(3)
    qtbot.waitUntil(lambda: page.preview.rules.seed == 3, timeout=WAIT_MS)
    page.build_button.click()
    qtbot.waitUntil(lambda: page.dataset_table.rowCount() == 1 and page.selected_dataset() == "from-gui",
                    timeout=WAIT_MS)
    assert "Leakage check passed" in page.status_label.text()
    with open_store(home) as store:
        record = ds_store.get_dataset(store, "from-gui")
    assert record.seed == 3 and record.counts["splits"] == page.preview.splits
    out = tmp_path / "export"
    monkeypatch.setattr(page, "choose_export_folder", lambda: out)
    assert page.export_button.isEnabled()
    page.export_button.click()
    qtbot.waitUntil(lambda: page.last_export is not None, timeout=WAIT_MS)
    check_folder(out)
    assert page.last_export.content_hash == record.content_hash


def test_a_failed_build_is_shown_not_swallowed(qtbot, page, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr("desktop.errors.show_exception", lambda parent, exc: shown.append(exc))
    page.name_edit.setText("dup")
    page.build_button.click()
    qtbot.waitUntil(lambda: page.dataset_table.rowCount() == 1, timeout=WAIT_MS)
    page.name_edit.setText("dup")
    page.build_button.click()
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
    assert "already exists" in str(shown[0])
    assert "already exists" in page.status_label.text()
    assert page.build_button.isEnabled()


def test_counts_wait_until_the_page_is_shown(qtbot, home: Path) -> None:
    from desktop.dataset_page import DatasetPage

    taskman = TaskManager(home)
    futures = track_futures(taskman)
    operations.install(taskman, OpBus())
    try:
        page = DatasetPage()
        qtbot.addWidget(page)
        settle(qtbot, futures)  # what the hidden page did start (the dataset list) has finished
        assert not page._timer.isActive()  # and no count is even scheduled while hidden
        assert page.preview is None  # hidden: nothing counted yet
        page.show()
        qtbot.waitUntil(lambda: page.preview is not None, timeout=WAIT_MS)
        settle(qtbot, futures)
        page.close()
    finally:
        taskman.shutdown()


def test_cancel_puts_the_page_back_and_says_so(qtbot, page, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr("desktop.errors.show_exception", lambda parent, exc: shown.append(exc))

    def cancelled(store, name, rules, state):
        state.cancel()  # what the progress dialog's Cancel does
        state.check_cancelled()

    monkeypatch.setattr("desktop.operations.datasets.build_dataset", cancelled)
    page.name_edit.setText("never")
    page.build_button.click()
    qtbot.waitUntil(lambda: "cancelled" in page.status_label.text(), timeout=WAIT_MS)
    assert page.build_button.isEnabled()
    assert page.dataset_table.rowCount() == 0
    assert shown == []  # a cancel is not an error
