"""Uncertainty for the evaluation tables.

Intervals: a seeded percentile bootstrap (``RESAMPLES`` resamples, 95 %).
Test items are resampled *within each symptom category*; the overall figure
of a resample is the ratio of the categories' summed totals, i.e. a
stratified bootstrap that keeps each category's size fixed, as the test split
does. Each category draws its item indices once per resample and every
system, metric and pair reuses them, so intervals of two systems are paired
and adding a system never changes another system's interval.

An average over items "where the system has a reply" is a ratio estimator:
``sum(value * has_reply) / sum(has_reply)`` within the resample, so items
without a usable reply are resampled too rather than silently dropped.

Paired test: the Wilcoxon signed-rank test on per-item differences between
two systems (items where both replied), zero differences dropped, mid-ranks
for ties. Exact null distribution (all 2^n sign assignments, counted by
dynamic programming over doubled ranks) for up to ``EXACT_MAX_N`` non-zero
differences; beyond that the normal approximation with tie and continuity
corrections. Two-sided.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads when a bootstrap runs, not with every evaluation import
    import numpy as np

RESAMPLES = 1000
CONFIDENCE = 0.95
EXACT_MAX_N = 25

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class RatioColumn:
    """Per-item integer ``values`` (0 where not counted) and 0/1 ``weights``.

    The estimate is ``sum(values) / sum(weights) / scale``: fractional measures
    are passed scaled to integers (sentiment distances in millionths), which
    makes every sum exact and lets the bootstrap pack all columns into one.
    """

    values: Sequence[int]
    weights: Sequence[int]
    scale: int = 1


def ratio(column: RatioColumn) -> float | None:
    total = sum(column.weights)
    return sum(column.values) / total / column.scale if total else None


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (Hyndman & Fan type 7)."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def percentile_interval(estimates: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    if not estimates:
        return None
    return _interval_of_sorted(sorted(estimates), confidence)


def _interval_of_sorted(ordered: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    tail = (1 - confidence) / 2
    return (quantile(ordered, tail), quantile(ordered, 1 - tail))


# Rows of resample counts drawn per chunk: bounds the bootstrap's memory
# (~32 MB of int64) whatever the number of items. Part of the seeded
# contract: the chunking decides which draws feed which resample.
CHUNK_ELEMENTS = 1 << 22


def resample_counts(rng: np.random.Generator, n: int, resamples: int) -> Iterator[np.ndarray]:
    """Chunks of a (resamples, n) matrix: how often each of n items is drawn in each resample.

    Each resample draws n item indices uniformly with replacement (a
    multinomial draw with equal probabilities), counted per item.
    """
    import numpy as np

    rows = max(1, CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, resamples, rows):
        k = min(rows, resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        idx += np.arange(k, dtype=idx.dtype)[:, None] * n
        yield np.bincount(idx.ravel(), minlength=k * n).reshape(k, n)


def _fields(cols: Mapping[str, RatioColumn]) -> tuple[int, np.ndarray, dict[str, tuple[int, int, int]]]:
    """One stratum's columns as an (n, fields) matrix, shared weight columns stored once."""
    import numpy as np

    n = len(next(iter(cols.values())).weights) if cols else 0
    fields: list[Sequence[int]] = []
    weight_field: dict[tuple[int, ...], int] = {}
    slots: dict[str, tuple[int, int, int]] = {}  # key -> (value field, weight field, scale)
    for key, col in cols.items():
        if len(col.values) != n or len(col.weights) != n:
            raise ValueError(f"column {key!r} does not have {n} items")
        if not all(issubclass(t, int) for t in set(map(type, col.values))):  # isinstance(v, int), per type
            raise TypeError(f"column {key!r}: values must be integers (scale fractional measures)")
        wkey = tuple(col.weights)
        if wkey not in weight_field:
            weight_field[wkey] = len(fields)
            fields.append(col.weights)
        slots[key] = (len(fields), weight_field[wkey], col.scale)
        fields.append(col.values)
    matrix = np.array(fields, dtype=np.float64).T.reshape(n, len(fields))
    # Totals are sums of integers; float64 (BLAS) sums them exactly below 2**53.
    if n and float(np.abs(matrix).sum(axis=0).max(initial=0)) * n >= 2**53:
        raise ValueError("column totals too large for an exact bootstrap")
    return n, matrix, slots


# OpenBLAS shares a product among threads above m·n·k = 2**18 (SMP_THRESHOLD_MIN x
# GEMM_MULTITHREAD_THRESHOLD in its interface/gemm.c). These products are thin, so
# the threads mostly wait, and a waiting OpenBLAS thread spins: on 2 shared cores a
# 10,000-item evaluation burnt ~0.15 s more CPU than with one thread (issue 12).
# Blocks at or below that size run on the calling thread.
_BLOCK_MNK = 1 << 18


def _totals(counts: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``counts @ matrix`` as exact integers, multiplied in blocks of at most ``_BLOCK_MNK``.

    Every entry and partial sum is an integer below 2**53 (``_fields`` checks),
    so float64 adds them exactly in any grouping: the blocks' sum is the product.
    """
    import numpy as np

    k, n = counts.shape
    f = max(matrix.shape[1], 1)
    rows = min(k, max(8, _BLOCK_MNK // max(n * f, 1)))  # 8 rows at least: a matrix product, not a vector one
    span = max(1, _BLOCK_MNK // (rows * f))  # items per block
    out = np.zeros((k, matrix.shape[1]), dtype=np.float64)
    for r0 in range(0, k, rows):
        block = counts[r0 : r0 + rows].astype(np.float64)
        acc = out[r0 : r0 + rows]
        for i0 in range(0, n, span):
            acc += block[:, i0 : i0 + span] @ matrix[i0 : i0 + span]
    return np.rint(out).astype(np.int64)


def stratified_bootstrap(
    strata: Mapping[str, Mapping[str, RatioColumn]],
    *,
    seed: int,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    on_resample: Callable[[int], None] | None = None,
) -> tuple[dict[str, dict[str, Interval | None]], dict[str, Interval | None]]:
    """Intervals for every ratio column, per stratum and pooled over strata.

    ``strata`` maps a stratum (category) to named columns of equal length.
    Strata are drawn in the mapping's order (each stratum's resamples in
    turn, ``resample_counts`` from one ``numpy.random.default_rng(seed)``),
    so the caller fixes that order. Each resample's totals are one matrix
    product: counts (resamples x items) times columns (items x fields), in blocks (``_totals``).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    names = sorted({k for cols in strata.values() for k in cols})
    scales = {k: col.scale for cols in strata.values() for k, col in cols.items()}
    prepared = {s: _fields(cols) for s, cols in strata.items()}
    pooled_v = {k: np.zeros(resamples, dtype=np.int64) for k in names}
    pooled_w = {k: np.zeros(resamples, dtype=np.int64) for k in names}
    per_stratum: dict[str, dict[str, list[float]]] = {s: {k: [] for k in cols} for s, cols in strata.items()}
    work = sum(n for n, _, _ in prepared.values()) or 1  # item-draws per resample
    done = 0
    for stratum, (n, matrix, slots) in prepared.items():
        if n == 0:
            continue
        chunks = []
        for counts in resample_counts(rng, n, resamples):
            chunks.append(_totals(counts, matrix))
            done += n * len(counts)
            if on_resample is not None:  # progress (and cancelling) in resamples of the whole
                on_resample(done // work)
        totals = np.concatenate(chunks)
        for key, (vf, wf, scale) in slots.items():
            v, w = totals[:, vf], totals[:, wf]
            kept = w != 0
            # v / w / scale in float64, as Python computes each one.
            per_stratum[stratum][key] = v[kept].astype(np.float64) / w[kept] / scale
            pooled_v[key] += v
            pooled_w[key] += w
    pooled: dict[str, np.ndarray] = {}
    for key in names:
        kept = pooled_w[key] != 0
        pooled[key] = pooled_v[key][kept].astype(np.float64) / pooled_w[key][kept] / scales[key]
    intervals = {
        s: {k: _sorted_interval(est, confidence) for k, est in cols.items()}
        for s, cols in per_stratum.items()
    }
    return intervals, {k: _sorted_interval(est, confidence) for k, est in pooled.items()}


def _sorted_interval(estimates: np.ndarray | list[float], confidence: float) -> Interval | None:
    """``percentile_interval`` of a float64 array, sorted by NumPy (the same order, the same floats)."""
    import numpy as np

    if len(estimates) == 0:
        return None
    ordered = np.sort(np.asarray(estimates, dtype=np.float64)).tolist()
    return _interval_of_sorted(ordered, confidence)


# Wilcoxon signed-rank #########################################################


@dataclass(frozen=True, slots=True)
class SignedRankResult:
    n: int  # non-zero differences used
    w_plus: float  # sum of the ranks of the positive differences
    p_value: float
    exact: bool


def _midranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        i = j + 1
    return ranks


def wilcoxon_signed_rank(differences: Sequence[float]) -> SignedRankResult:
    nonzero = [d for d in differences if d != 0]
    n = len(nonzero)
    if n == 0:
        return SignedRankResult(0, 0.0, 1.0, True)
    if n > EXACT_MAX_N:
        return _signed_rank_normal(nonzero)
    ranks = _midranks([abs(d) for d in nonzero])
    w_plus = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    if n <= EXACT_MAX_N:
        # Doubled mid-ranks are integers, so the null distribution of 2·W+
        # is a subset-sum count over 2^n equally likely sign patterns.
        doubled = [round(2 * r) for r in ranks]
        counts = [0] * (sum(doubled) + 1)
        counts[0] = 1
        for r in doubled:
            for s in range(len(counts) - 1, r - 1, -1):
                counts[s] += counts[s - r]
        t = round(2 * w_plus)
        total = 2**n
        lower = sum(counts[: t + 1]) / total
        upper = sum(counts[t:]) / total
        return SignedRankResult(n, w_plus, min(1.0, 2 * min(lower, upper)), True)
    raise AssertionError("unreachable: n > EXACT_MAX_N goes to _signed_rank_normal")


def _signed_rank_normal(nonzero: Sequence[float]) -> SignedRankResult:
    """The normal approximation with tie and continuity corrections, ranked with NumPy.

    Mid-ranks are multiples of 1/2 and tie counts integers, so every sum
    here is exact and equals the plain-Python ranking's (a test compares them).
    """
    import numpy as np

    d = np.asarray(nonzero, dtype=np.float64)
    n = len(d)
    _values, group, counts = np.unique(np.abs(d), return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based position of each group's first member
    ranks = (first + (counts + 1) / 2)[group.reshape(-1)]
    w_plus = float(ranks[d > 0].sum())
    mean = n * (n + 1) / 4
    ties = int((counts.astype(np.int64) ** 3 - counts).sum())
    var = n * (n + 1) * (2 * n + 1) / 24 - ties / 48
    if var <= 0:
        return SignedRankResult(n, w_plus, 1.0, False)
    z = max(abs(w_plus - mean) - 0.5, 0.0) / math.sqrt(var)
    return SignedRankResult(n, w_plus, math.erfc(z / math.sqrt(2)), False)
