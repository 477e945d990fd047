"""The Evaluation page standalone: same numbers as the CLI, charts, reader, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


from core.changes import OpChanges
from cli import main
from core.evaluation.responses import import_responses
from core.evaluation.sample import SAMPLE_DATASET, build_sample
from core.store import open_store

LABELS = [
    ("avg_length_diff", "Avg Length Diff (abs)", 2),
    ("avg_sentiment_distance", "Avg Sentiment Distance", 4),
    ("avg_sentence_diff", "Avg Sentence Diff (abs)", 2),
    ("name_usage_mismatch", "Name Usage Mismatch", None),
    ("questions", "Num of Questions Asked", None),
    ("replies_with_question", "Replies With a Question", None),
    ("n", "n", None),
    ("missing", "missing", None),
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    with open_store(ws) as store:
        build_sample(store, tmp_path / "replies")
    return ws


@pytest.fixture
def page(qtbot, home: Path, monkeypatch: pytest.MonkeyPatch):
    from desktop.evaluation import EvaluationPage

    # The worked sample has 4 items, below the minimum for intervals; these tests check the
    # page draws intervals and whiskers, so they lower it (as the CLI's --min-items 1 does).
    import sys

    monkeypatch.setattr(sys.modules["core.evaluation.evaluate"], "MIN_ITEMS", 1)
    from desktop.operations import OpBus, install
    from desktop.taskman import TaskManager

    taskman = TaskManager(home)
    install(taskman, OpBus())
    widget = EvaluationPage()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.dataset_box.count() == 1 and widget.system_list.count() == 3)
    yield widget
    widget.close()
    taskman.shutdown()


def _cli_json(home: Path, tmp_path: Path, seed: int) -> dict:
    out = tmp_path / "cli.json"
    # tuned has no reply for one sample item; the 4-item sample is below the default minimum for intervals
    assert main(["--home", str(home), "evaluate", SAMPLE_DATASET, "--systems", "base,tuned",
                 "--seed", str(seed), "--json", str(out), "--report", str(tmp_path / "cli-report"),
                 "--allow-missing", "--min-items", "1"]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def _expected_cell(block: dict, system: str, key: str, decimals: int | None) -> str:
    value = block["systems"][system][key]
    if decimals is None:
        return str(value)
    if value is None:
        return "—"
    lo, hi = block["intervals"][system][key]
    return f"{value:.{decimals}f} [{lo:.{decimals}f}, {hi:.{decimals}f}]"


def _evaluate(qtbot, page, systems: list[str], seed: int = 0) -> None:
    page.set_selection(SAMPLE_DATASET, systems)
    page.seed_box.setValue(seed)
    page.run_button.click()
    qtbot.waitUntil(lambda: page.result is not None and page.result.seed == seed, timeout=10_000)


def test_page_shows_the_same_numbers_as_the_cli(qtbot, page, home: Path, tmp_path: Path) -> None:
    cli = _cli_json(home, tmp_path, seed=3)
    assert [page.system_list.item(i).data(256) for i in range(3)] == ["therapist", "base", "tuned"]
    _evaluate(qtbot, page, ["base", "tuned"], seed=3)
    blocks = {"Overall": cli["overall"], **cli["categories"]}
    assert page.table_choice.count() == 8
    for index in range(page.table_choice.count()):
        page.table_choice.setCurrentIndex(index)
        name = page.table_choice.currentData()
        block = blocks[name]
        table = page.table_text()
        assert table[0] == ["Metric", "base", "tuned", "Therapist"]
        for row, (key, label, decimals) in zip(table[1:], LABELS, strict=True):
            assert row[0] == label
            assert row[1] == _expected_cell(block, "base", key, decimals), (name, label)
            assert row[2] == _expected_cell(block, "tuned", key, decimals), (name, label)
        assert table[5][3] == str(block["therapist"]["questions"])
        assert table[6][3] == str(block["therapist"]["replies_with_question"])
        assert table[7][3] == str(block["n"])


def test_chart_has_grouped_bars_with_whiskers(qtbot, page) -> None:
    from PySide6.QtCharts import QBarSeries, QLineSeries

    _evaluate(qtbot, page, ["base", "tuned"])
    page.chart_metric.setCurrentIndex(0)  # Avg Length Diff
    chart = page.chart_view.chart()
    bars = [s for s in chart.series() if isinstance(s, QBarSeries)]
    assert len(bars) == 1
    sets = {bars[0].barSets()[i].label(): bars[0].barSets()[i] for i in range(bars[0].count())}
    assert list(sets) == ["base", "tuned"]
    assert sets["base"].count() == 8  # overall + seven categories
    assert sets["base"].at(0) == pytest.approx(3.5)
    assert sets["tuned"].at(0) == pytest.approx(7 / 3)
    whiskers = [s for s in chart.series() if isinstance(s, QLineSeries)]
    # One whisker per (table, system) with an interval: overall, Anxiety, Depression (tuned), Fatigue (base).
    assert len(whiskers) == 2 + 2 + 1 + 1
    questions = page.chart_metric.findData("questions")
    page.chart_metric.setCurrentIndex(questions)
    bars = [s for s in page.chart_view.chart().series() if isinstance(s, QBarSeries)][0]
    assert [bars.barSets()[i].label() for i in range(bars.count())] == ["base", "tuned", "Therapist"]
    assert bars.barSets()[2].at(0) == 2


def test_item_reader_sorts_by_distance_and_shows_replies_side_by_side(qtbot, page) -> None:
    _evaluate(qtbot, page, ["base", "tuned"])
    page.sort_items_by("base", "length_diff", descending=False)
    # base: item 1 is 0 words off, item 4 is 7 off; missing replies sort as farthest.
    assert page.item_order()[:2] == ["ex-90000001", "ex-90000004"]
    page.sort_items_by("tuned", "sentiment_distance", descending=True)
    assert page.item_order()[0] == "ex-90000004"  # tuned has no reply there
    assert page.item_order()[1] == "ex-90000002"  # 0.4767, the largest distance
    row = page.item_order().index("ex-90000001")
    page.items.selectRow(row)
    qtbot.waitUntil(lambda: page.reference_text.toPlainText() == "Sam, tell me more. What happens then?")
    assert "I keep worrying at night." in page.context_text.toPlainText()
    assert page.reply_boxes["base"].toPlainText() == "That sounds good. Can you say more?"
    assert page.reply_boxes["tuned"].toPlainText() == "Tell me more, Sam."
    assert page.reply_titles["base"].title().startswith("base: Δ 0 words")
    page.items.selectRow(page.item_order().index("ex-90000003"))
    qtbot.waitUntil(lambda: "blocked" in page.reply_boxes["base"].toPlainText())


def test_exports_match_the_cli_report(qtbot, page, home: Path, tmp_path: Path) -> None:
    _cli_json(home, tmp_path, seed=0)
    _evaluate(qtbot, page, ["base", "tuned"])
    for kind, name in (("HTML", "evaluation.html"), ("JSON", "evaluation.json"), ("CSV", "evaluation.csv"),
                       ("Markdown", "evaluation.md")):
        assert page.export_buttons[kind].isEnabled()
        target = tmp_path / f"page-{name}"
        page.export_to(kind, target)
        qtbot.waitUntil(lambda t=target: page.last_export == t)
        assert target.read_text(encoding="utf-8") == (tmp_path / "cli-report" / name).read_text(encoding="utf-8")


def test_new_replies_elsewhere_refresh_the_system_list(qtbot, page, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "third.jsonl"
    path.write_text(json.dumps({"example_id": "ex-90000001", "response": "Mm."}) + "\n", encoding="utf-8")
    with open_store(home) as store:
        import_responses(store, "third", path)
    page.op_executed(OpChanges(responses=True), None)
    qtbot.waitUntil(lambda: page.system_list.count() == 4)
    assert "third" in [page.system_list.item(i).data(256) for i in range(4)]


def test_an_unknown_dataset_error_is_shown_not_swallowed(qtbot, page, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr("desktop.errors.show_exception", lambda parent, exc: shown.append(str(exc)))
    page.dataset_box.addItem("gone")
    page.dataset_box.setCurrentText("gone")
    page.run_button.click()
    qtbot.waitUntil(lambda: bool(shown))
    assert "no dataset named 'gone'" in shown[0]
    assert "failed" in page.status.text()
    qtbot.waitUntil(page.run_button.isEnabled)


def test_replies_imported_from_the_page_appear_and_errors_are_shown(qtbot, page, tmp_path: Path,
                                                                   monkeypatch) -> None:
    from desktop.operations import bus

    seen = []
    bus().operation_did_execute.connect(lambda changes, initiator: seen.append(changes))
    bus().operation_did_execute.connect(page.op_executed)
    good = tmp_path / "fourth.jsonl"
    good.write_text(json.dumps({"example_id": "ex-90000002", "response": "Say more."}) + "\n", encoding="utf-8")
    page.import_replies("fourth", good)
    qtbot.waitUntil(lambda: page.system_list.count() == 4)
    assert seen and seen[0].responses
    assert "1 reply imported for system 'fourth'" in page.status.text()
    shown = []
    monkeypatch.setattr("desktop.errors.show_exception", lambda parent, exc: shown.append(str(exc)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"example_id": "ex-404", "response": "x"}\n', encoding="utf-8")
    page.import_replies("fourth", bad)
    qtbot.waitUntil(lambda: bool(shown))
    assert shown[0].startswith(f"{bad}:1: unknown example id 'ex-404'")


def test_cancel_leaves_the_page_usable(qtbot, page) -> None:
    import threading

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    from desktop.operations import taskman

    # Hold the database thread so the evaluation waits in the queue, press the
    # progress dialog's Cancel, then let it run: it must stop before any work.
    gate = threading.Event()
    taskman().run_on_db(lambda store: gate.wait(30))
    try:
        page.set_selection(SAMPLE_DATASET, ["base"])
        page.run_button.click()
        assert not page.run_button.isEnabled()
        qtbot.waitUntil(lambda: page.findChild(QProgressDialog, "progressDialog") is not None
                        and page.findChild(QProgressDialog, "progressDialog").isVisible(), timeout=10_000)
        cancel = page.findChild(QProgressDialog, "progressDialog").findChild(QPushButton)
        qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
        assert page.running is not None and page.running.state.cancelled
    finally:
        gate.set()
    qtbot.waitUntil(lambda: "cancelled" in page.status.text(), timeout=10_000)
    qtbot.waitUntil(page.run_button.isEnabled)
    assert page.result is None
    assert page.running is None
    _evaluate(qtbot, page, ["base"])  # still usable: the next run completes
    assert page.result.systems == ["base"]


def test_the_item_reader_is_a_model_view_that_shows_and_sorts_20000_items_quickly(qtbot, page, capsys) -> None:
    import dataclasses
    import time

    from PySide6.QtWidgets import QTableView

    from desktop.evaluation.item_reader import ItemsModel

    _evaluate(qtbot, page, ["base", "tuned"])
    assert isinstance(page.items, QTableView) and isinstance(page.items.model(), ItemsModel)
    small = page.result
    n = 20_000
    items, scores = [], {}
    for i in range(n):
        source = small.items[i % len(small.items)]
        eid = f"ex-{i:08d}"
        items.append(dataclasses.replace(source, example_id=eid))
        scores[eid] = small.scores[source.example_id]
    big = dataclasses.replace(small, items=items, scores=scores)
    started = time.perf_counter()
    page.show_result(big)
    shown = time.perf_counter() - started
    model = page.items.model()
    assert model.rowCount() == n
    assert model.index(n - 1, 0).data() == f"ex-{n - 1:08d}"
    started = time.perf_counter()
    page.sort_items_by("base", "length_diff", descending=False)
    sorted_s = time.perf_counter() - started
    values = [big.scores[eid]["base"].length_diff for eid in page.item_order()]
    present = [v for v in values if v is not None]
    assert present == sorted(present) and values[: len(present)] == present  # missing ones last
    with capsys.disabled():
        print(f"\nitem reader, {n} items: shown in {shown * 1000:.0f} ms, sorted in {sorted_s * 1000:.0f} ms")
    # A QTableWidget took seconds here; the bound is generous for a loaded machine.
    assert shown < 5 and sorted_s < 5


def test_evaluation_writes_so_a_failed_integrity_check_refuses_it(qtbot, home: Path, monkeypatch) -> None:
    """Scoring caches features in the store: a write, so it waits for (and obeys) the integrity check."""
    import desktop.taskman as taskman_module
    from core.errors import WorkspaceCorrupt
    from desktop.evaluation import EvaluationPage
    from desktop.operations import OpBus, install
    from desktop.taskman import TaskManager

    def damaged(path: Path) -> None:
        raise WorkspaceCorrupt(f"{path}: the database failed its integrity check")

    monkeypatch.setattr(taskman_module, "verify_integrity", damaged)
    shown: list[str] = []
    monkeypatch.setattr("desktop.errors.show_exception", lambda parent, exc: shown.append(str(exc)))
    taskman = TaskManager(home)
    install(taskman, OpBus())
    widget = EvaluationPage()
    qtbot.addWidget(widget)
    widget.show()
    try:
        # Reads go on: the choices load.
        qtbot.waitUntil(lambda: widget.dataset_box.count() == 1 and widget.system_list.count() == 3)
        widget.set_selection(SAMPLE_DATASET, ["base"])
        widget.run_button.click()
        qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
        assert "failed its integrity check" in shown[0]
        assert widget.result is None
        qtbot.waitUntil(widget.run_button.isEnabled)
    finally:
        widget.close()
        taskman.shutdown()
