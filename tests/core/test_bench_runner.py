"""The benchmark runner's judging: ``--repeat N`` passes only when every run passes."""

from __future__ import annotations

import sys

import pytest

from tests.benchmarks import __main__ as runner
from tests.benchmarks.common import Row


def _fake_runs(monkeypatch: pytest.MonkeyPatch, values: list[float]) -> list[list[str]]:
    calls: list[list[str]] = []
    results = iter(values)

    def run_once(names: list[str]) -> tuple[bool, list[Row]]:
        calls.append(names)
        row = Row("startup: attune stats (CPU)", next(results), "s", target=0.12)
        return row.ok, [row]

    monkeypatch.setattr(runner, "_run_once", run_once)
    return calls


def test_repeat_fails_when_any_single_run_misses(monkeypatch, capsys) -> None:
    calls = _fake_runs(monkeypatch, [0.08, 0.13, 0.09])
    monkeypatch.setattr(sys, "argv", ["bench", "--repeat", "3", "startup"])
    assert runner.main() == 1
    out = capsys.readouterr().out
    assert "passed 2 of 3 runs" in out
    assert "0.08–0.13 s" in out and "MISSED in 1 run(s)" in out
    assert calls == [["bench_startup"]] * 3


def test_repeat_passes_when_every_run_passes(monkeypatch, capsys) -> None:
    _fake_runs(monkeypatch, [0.08, 0.09])
    monkeypatch.setattr(sys, "argv", ["bench", "--repeat", "2", "startup"])
    assert runner.main() == 0
    assert "passed 2 of 2 runs" in capsys.readouterr().out


def test_repeat_needs_a_count(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["bench", "--repeat", "three"])
    assert runner.main() == 2
    assert "usage" in capsys.readouterr().err


def test_a_row_is_judged_on_its_target_and_its_ratio() -> None:
    assert Row("x", 0.12, "s", target=0.12).ok
    assert not Row("x", 0.121, "s", target=0.12).ok
    assert not Row("x", 1.0, "s", floor=0.2, ratio_target=3).ok  # 5x its floor
    assert Row("x", 0.5, "s", floor=0.2, ratio_target=3).ok
