"""Bootstrap intervals and the Wilcoxon signed-rank test, on hand-worked cases."""

from __future__ import annotations

import math

import pytest

from core.evaluation.stats import (
    RatioColumn,
    draw_indices,
    percentile_interval,
    quantile,
    stratified_bootstrap,
    wilcoxon_signed_rank,
)


def test_quantile_interpolates_between_order_statistics() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert quantile(values, 0.0) == 1.0
    assert quantile(values, 1.0) == 5.0
    assert quantile(values, 0.5) == 3.0
    assert quantile(values, 0.1) == pytest.approx(1.4)  # position 0.4 between 1 and 2
    assert percentile_interval([]) is None
    assert percentile_interval([2.0]) == (2.0, 2.0)


def test_wilcoxon_exact_all_positive() -> None:
    # Ranks 1, 2, 3 all positive: W+ = 6, the largest of 2^3 = 8 equally likely sums.
    r = wilcoxon_signed_rank([1, 2, 3])
    assert (r.n, r.w_plus, r.exact) == (3, 6, True)
    assert r.p_value == pytest.approx(2 / 8)


def test_wilcoxon_exact_one_negative() -> None:
    # Ranks 1..5, the rank-2 difference negative: W+ = 13. Of the 32 sign patterns,
    # sums >= 13 are {15, 14, 13} (the complements of {}, {1}, {2}): 3/32 each tail.
    r = wilcoxon_signed_rank([1, -2, 3, 4, 5])
    assert r.w_plus == 13
    assert r.p_value == pytest.approx(6 / 32)


def test_wilcoxon_drops_zero_differences_and_handles_ties() -> None:
    assert wilcoxon_signed_rank([0, 0, 1, 2, 3]).p_value == pytest.approx(2 / 8)
    assert wilcoxon_signed_rank([0, 0]).p_value == 1.0
    # |d| all tied: mid-rank 2 each; W+ = 4 sits in the middle of {0, 2, 4, 6}.
    tied = wilcoxon_signed_rank([1, 1, -1])
    assert tied.w_plus == 4
    assert tied.p_value == 1.0


def test_wilcoxon_normal_approximation_for_large_n() -> None:
    n = 30
    r = wilcoxon_signed_rank(list(range(1, n + 1)))
    assert not r.exact
    mean = n * (n + 1) / 4  # 232.5
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)  # sqrt(2363.75)
    z = (465 - mean - 0.5) / sd
    assert r.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert r.p_value < 1e-5
    symmetric = wilcoxon_signed_rank([(-1) ** i * (i + 1) for i in range(40)])
    assert symmetric.p_value > 0.5


def _col(values: list[int], weights: list[int] | None = None, scale: int = 1) -> RatioColumn:
    return RatioColumn(values, weights or [1] * len(values), scale)


def test_bootstrap_single_item_and_empty_strata() -> None:
    per, pooled = stratified_bootstrap(
        {"one": {"m": _col([4])}, "none": {"m": _col([])}}, seed=0, resamples=50
    )
    assert per["one"]["m"] == (4.0, 4.0)
    assert per["none"]["m"] is None
    assert pooled["m"] == (4.0, 4.0)


def test_bootstrap_is_seeded_and_ignores_unweighted_items() -> None:
    strata = {"s": {"m": _col([1, 2, 3, 100, 0], [1, 1, 1, 1, 0])}}
    a = stratified_bootstrap(strata, seed=1, resamples=300)
    assert a == stratified_bootstrap(strata, seed=1, resamples=300)
    assert a != stratified_bootstrap(strata, seed=2, resamples=300)
    lo, hi = a[0]["s"]["m"]
    assert 1.0 <= lo < 26.5 < hi <= 100.0  # 26.5 is the mean of the counted items


def test_pooled_interval_is_stratified() -> None:
    # Two strata with constant values: every resample keeps each stratum's size,
    # so the pooled mean never moves from (3*1 + 1*5) / 4 = 2.
    per, pooled = stratified_bootstrap(
        {"a": {"m": _col([1, 1, 1])}, "b": {"m": _col([5])}}, seed=0, resamples=100
    )
    assert pooled["m"] == (2.0, 2.0)


def test_packed_columns_match_separate_sums() -> None:
    # Negative values, a scale and shared weights: each column's resampled
    # estimate must equal the one computed column by column from the same draws.
    import random as _random

    values_a = [3, -7, 12, 0, 5, -1]
    values_b = [250_000, 1_000_000, 0, 500_000, 0, 750_000]
    weights = [1, 1, 1, 0, 1, 1]
    per, _ = stratified_bootstrap(
        {"s": {"a": _col(values_a, weights), "b": _col(values_b, weights, 1_000_000)}}, seed=9, resamples=40
    )
    rng = _random.Random(9)
    est_a, est_b = [], []
    for _ in range(40):
        idx = draw_indices(rng, 6)
        w = sum(weights[i] for i in idx)
        if w:
            est_a.append(sum(values_a[i] for i in idx) / w)
            est_b.append(sum(values_b[i] for i in idx) / w / 1_000_000)
    from core.evaluation.stats import percentile_interval as pi

    assert per["s"]["a"] == pi(est_a)
    assert per["s"]["b"] == pi(est_b)
    with pytest.raises(TypeError):
        stratified_bootstrap({"s": {"m": RatioColumn([0.5], [1])}}, seed=0, resamples=1)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1000, 40_000, 70_000])
def test_draws_are_in_range_and_roughly_uniform(n: int) -> None:
    import random as _random

    rng = _random.Random(n)
    idx = [i for _ in range(max(1, 60_000 // n)) for i in draw_indices(rng, n)]
    assert min(idx) >= 0 and max(idx) < n
    if n <= 7:
        counts = [idx.count(k) for k in range(n)]
        expected = len(idx) / n
        assert all(abs(c - expected) < 5 * math.sqrt(expected) for c in counts), counts
    else:
        halves = sum(1 for i in idx if i < n // 2) / len(idx)
        assert abs(halves - (n // 2) / n) < 0.02
