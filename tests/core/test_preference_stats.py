"""A/B statistics against published, hand-checkable cases."""

from __future__ import annotations

import math

import pytest

from core.preference.analysis import (
    BT_PSEUDO,
    bradley_terry,
    cohen_kappa,
    consistency,
    krippendorff_alpha_nominal,
    pair_stats,
    position_bias,
    sign_test,
    wilson,
)
from core.preference.sessions import VoteRow


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score interval)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


def test_wilson_of_nothing_is_none() -> None:
    assert wilson(0, 0) is None


def test_sign_test_exact_two_sided() -> None:
    # 9 wins, 1 loss: P(X <= 1) = (1 + 10) / 1024, doubled.
    assert sign_test(9, 1) == pytest.approx(22 / 1024)
    assert sign_test(1, 9) == sign_test(9, 1)
    assert sign_test(5, 5) == 1.0
    # 6-0: 2 / 64
    assert sign_test(6, 0) == pytest.approx(2 / 64)
    assert sign_test(0, 0) is None


def test_cohen_kappa_textbook() -> None:
    # Wikipedia "Cohen's kappa", worked example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> 0.4
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa(first, first) == pytest.approx(1.0)


def test_krippendorff_alpha_nominal_textbook() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 observers, 12 units,
    # missing values: nominal alpha = 0.743.
    n = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    units = [[v for v in unit if v is not None] for unit in zip(*observers, strict=True)]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)


def test_alpha_agrees_with_kappa_direction_for_two_raters() -> None:
    a = ["x", "x", "y", "y", "tie", "x"]
    b = ["x", "y", "y", "y", "tie", "x"]
    alpha = krippendorff_alpha_nominal([[p, q] for p, q in zip(a, b, strict=True)])
    assert 0 < alpha < 1
    assert krippendorff_alpha_nominal([[p, p] for p in a]) == pytest.approx(1.0)


def test_bradley_terry_two_systems_is_the_odds() -> None:
    s = bradley_terry(["x", "y"], {("x", "y"): 3, ("y", "x"): 1})
    # With two systems the MM fixed point is p_x / p_y = wins_x / wins_y (pseudo-counts included).
    assert s["x"] / s["y"] == pytest.approx((3 + BT_PSEUDO) / (1 + BT_PSEUDO), rel=1e-6)
    assert math.sqrt(s["x"] * s["y"]) == pytest.approx(1.0)


def test_bradley_terry_orders_a_chain() -> None:
    wins = {("a", "b"): 8, ("b", "a"): 2, ("b", "c"): 8, ("c", "b"): 2, ("a", "c"): 9, ("c", "a"): 1}
    s = bradley_terry(["a", "b", "c"], wins)
    assert s["a"] > s["b"] > s["c"]


def _row(left: str, right: str, choice: str, *, rater: str = "r", item: str = "i", key: str = "k",
         repeat_of: str | None = None) -> VoteRow:
    return VoteRow(item, "Anxiety", rater, left, right, choice, "", key, repeat_of)


def test_pair_stats_count_from_either_side() -> None:
    rows = [_row("x", "y", "a"), _row("y", "x", "b"), _row("y", "x", "a"), _row("x", "y", "t"),
            _row("x", "y", "z"), _row("x", "y", "s")]
    p = pair_stats([r for r in rows if r.choice != "s"], "x", "y")
    assert (p["wins"], p["losses"], p["ties"], p["both_bad"], p["decisive"]) == (2, 1, 1, 1, 3)
    assert p["preference_rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert p["sign_test_p"] == pytest.approx(1.0)
    lo, hi = wilson(2, 3)
    assert p["interval"] == [round(lo, 6), round(hi, 6)]


def test_position_bias_counts_a_over_decisive() -> None:
    rows = [_row("x", "y", c) for c in "aaabtz"]
    pb = position_bias(rows)
    assert (pb["a_picks"], pb["decisive"], pb["share_a"]) == (3, 4, 0.75)


def test_consistency_translates_swapped_sides() -> None:
    rows = [
        _row("x", "y", "a", key="k1"), _row("y", "x", "b", key="k1r", repeat_of="k1"),   # x both times
        _row("x", "z", "a", key="k2"), _row("z", "x", "a", key="k2r", repeat_of="k2"),   # flipped
        _row("y", "z", "t", key="k3"), _row("z", "y", "t", key="k3r", repeat_of="k3"),   # tie both times
        _row("y", "x", "s", key="k4"), _row("x", "y", "a", key="k4r", repeat_of="k4"),   # skip: left out
    ]
    c = consistency(rows)
    assert (c["repeated"], c["consistent"]) == (3, 2)
