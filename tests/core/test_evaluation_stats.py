"""Bootstrap intervals and the Wilcoxon signed-rank test, on hand-worked cases."""

from __future__ import annotations

import math

import pytest

from core.evaluation.stats import (
    RatioColumn,
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


def _reference_bootstrap(strata, *, seed: int, resamples: int, chunk_elements: int | None = None):
    """The bootstrap in plain Python from the same seeded counts: the definition the fast one must equal."""
    import numpy as np

    from core.evaluation import stats

    if chunk_elements is not None:
        stats.CHUNK_ELEMENTS, saved = chunk_elements, stats.CHUNK_ELEMENTS
    try:
        rng = np.random.default_rng(seed)
        names = sorted({k for cols in strata.values() for k in cols})
        scales = {k: col.scale for cols in strata.values() for k, col in cols.items()}
        per: dict = {}
        pooled = {k: [[0, 0] for _ in range(resamples)] for k in names}
        for stratum, cols in strata.items():
            per[stratum] = {k: [] for k in cols}
            n = len(next(iter(cols.values())).weights) if cols else 0
            if n == 0:
                continue
            rows = [row for chunk in stats.resample_counts(rng, n, resamples) for row in chunk.tolist()]
            assert len(rows) == resamples and all(sum(r) == n for r in rows)
            for b, counts in enumerate(rows):
                for key, col in cols.items():
                    v = sum(c * x for c, x in zip(counts, col.values, strict=True))
                    w = sum(c * x for c, x in zip(counts, col.weights, strict=True))
                    if w:
                        per[stratum][key].append(v / w / col.scale)
                    pooled[key][b][0] += v
                    pooled[key][b][1] += w
    finally:
        if chunk_elements is not None:
            stats.CHUNK_ELEMENTS = saved
    intervals = {s: {k: percentile_interval(e) for k, e in cols.items()} for s, cols in per.items()}
    return intervals, {
        k: percentile_interval([v / w / scales[k] for v, w in pooled[k] if w]) for k in names
    }


def test_bootstrap_equals_the_plain_python_reference() -> None:
    # Negative values (paired differences), a scale, shared and separate weights,
    # an empty stratum and one of a single item.
    import random as _random

    rng = _random.Random(4)
    strata = {}
    for s, n in (("a", 37), ("b", 5), ("c", 0), ("d", 1), ("e", 120)):
        w1 = [1 if rng.random() < 0.8 else 0 for _ in range(n)]
        w2 = [1 if rng.random() < 0.6 else 0 for _ in range(n)]
        strata[s] = {
            "x\x00len": _col([rng.randint(-40, 90) * w for w in w1], w1),
            "x\x00sent": _col([rng.randint(0, 2_000_000) * w for w in w1], w1, 1_000_000),
            "y\x00len": _col([rng.randint(0, 60) * w for w in w2], w2),
            "x\x00y\x00len": _col([rng.randint(-50, 50) * a * b for a, b in zip(w1, w2, strict=True)],
                                    [a * b for a, b in zip(w1, w2, strict=True)]),
        }
    for seed in (0, 7):
        assert stratified_bootstrap(strata, seed=seed, resamples=200) == _reference_bootstrap(
            strata, seed=seed, resamples=200
        )


def test_bootstrap_in_small_chunks_equals_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.evaluation import stats

    strata = {"s": {"m": _col(list(range(-20, 30)), [int(i % 3 != 0) for i in range(50)])}}
    monkeypatch.setattr(stats, "CHUNK_ELEMENTS", 120)  # a few resamples per chunk
    assert stratified_bootstrap(strata, seed=3, resamples=101) == _reference_bootstrap(
        strata, seed=3, resamples=101, chunk_elements=120
    )


def test_bootstrap_in_small_product_blocks_equals_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks of resamples and of items (what keeps OpenBLAS on one thread) add up to the one product.
    from core.evaluation import stats

    rng = __import__("random").Random(11)
    w = [int(rng.random() < 0.7) for _ in range(90)]
    strata = {"s": {"a": _col([rng.randint(-2_000_000, 2_000_000) * x for x in w], w, 1_000_000),
                    "b": _col([rng.randint(0, 90) for _ in range(90)], [1] * 90)}}
    expected = stratified_bootstrap(strata, seed=5, resamples=37)
    monkeypatch.setattr(stats, "_BLOCK_MNK", 64)  # 8 resamples x 2 items x 3 fields a block
    assert stratified_bootstrap(strata, seed=5, resamples=37) == expected == _reference_bootstrap(
        strata, seed=5, resamples=37
    )


def test_block_products_are_the_exact_product() -> None:
    import numpy as np

    from core.evaluation import stats

    rng = np.random.default_rng(1)
    for k, n, block in ((1, 7, 5), (13, 300, 1000), (40, 3, 10), (9, 50, 1 << 18)):
        counts = rng.integers(0, 6, size=(k, n))
        matrix = rng.integers(-2_000_000, 2_000_000, size=(n, 4)).astype(np.float64)
        saved, stats._BLOCK_MNK = stats._BLOCK_MNK, block
        try:
            got = stats._totals(counts, matrix)
        finally:
            stats._BLOCK_MNK = saved
        assert got.dtype == np.int64
        assert got.tolist() == (counts @ matrix.astype(np.int64)).tolist()


def test_bootstrap_rejects_fractional_values_and_ragged_columns() -> None:
    with pytest.raises(TypeError):
        stratified_bootstrap({"s": {"m": RatioColumn([0.5], [1])}}, seed=0, resamples=1)
    with pytest.raises(ValueError):
        stratified_bootstrap({"s": {"a": _col([1, 2]), "b": _col([1])}}, seed=0, resamples=1)


def test_bootstrap_reports_progress_up_to_every_resample() -> None:
    seen: list[int] = []
    stratified_bootstrap({"a": {"m": _col([1, 2, 3])}, "b": {"m": _col([4, 5])}}, seed=0, resamples=50,
                         on_resample=seen.append)
    assert seen == sorted(seen) and seen[-1] == 50


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1000, 40_000, 70_000])
def test_resample_counts_are_uniform_draws_of_n_items(n: int) -> None:
    import numpy as np

    from core.evaluation.stats import resample_counts

    resamples = max(1, 60_000 // n)
    counts = np.concatenate(list(resample_counts(np.random.default_rng(n), n, resamples)))
    assert counts.shape == (resamples, n)
    assert (counts.sum(axis=1) == n).all() and counts.min() >= 0
    per_item = counts.sum(axis=0)
    if n <= 7:
        expected = resamples
        assert all(abs(c - expected) < 5 * math.sqrt(expected) for c in per_item), per_item
    else:
        halves = per_item[: n // 2].sum() / per_item.sum()
        assert abs(halves - (n // 2) / n) < 0.02


def _signed_rank_reference(differences: list[float]) -> tuple[int, float, float]:
    """The normal approximation in plain Python: mid-ranks by sorting, ties by a dict."""
    nonzero = [d for d in differences if d != 0]
    n = len(nonzero)
    order = sorted(range(n), key=lambda i: abs(nonzero[i]))
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(nonzero[order[j + 1]]) == abs(nonzero[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    w_plus = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    ties: dict[float, int] = {}
    for r in ranks:
        ties[r] = ties.get(r, 0) + 1
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t**3 - t for t in ties.values()) / 48
    z = max(abs(w_plus - n * (n + 1) / 4) - 0.5, 0.0) / math.sqrt(var)
    return n, w_plus, math.erfc(z / math.sqrt(2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_sample_signed_rank_equals_the_plain_python_ranking(seed: int) -> None:
    import random as _random

    rng = _random.Random(seed)
    # Many ties (small integers, halves, scaled sentiment steps), zeros, both signs.
    diffs = [rng.choice([0, 0.5, -0.5, 1, -1, 2, -3, 0.0001 * rng.randint(-30, 30), rng.randint(-9, 9)])
             for _ in range(rng.randint(30, 3000))]
    r = wilcoxon_signed_rank(diffs)
    assert not r.exact
    assert (r.n, r.w_plus, r.p_value) == _signed_rank_reference(diffs)
