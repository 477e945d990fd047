"""Uncertainty for the evaluation tables, in pure Python (no NumPy in the app).

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
import random
import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter

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
    ordered = sorted(estimates)
    tail = (1 - confidence) / 2
    return (quantile(ordered, tail), quantile(ordered, 1 - tail))


_SPAN = 1 << 16


def _draw(rng: random.Random, n: int) -> tuple[list[int], int]:
    """n draws uniform on range(limit), where limit is a multiple of n.

    ``j % n`` of each draw is then a uniform index into n items. Bulk bits
    from ``getrandbits`` filtered in C (rejecting draws at or above the
    largest multiple of n below 2**16) cost a fraction of ``rng.choices``,
    which calls ``random()`` and ``floor`` once per draw.
    """
    if n > _SPAN:
        return rng.choices(range(n), k=n), n
    limit = n * (_SPAN // n)
    out: list[int] = []
    while len(out) < n:
        want = n - len(out)
        count = want * _SPAN // limit + 32  # expected draws needed, plus slack
        words = array("H", rng.getrandbits(16 * count).to_bytes(2 * count, "little"))
        if sys.byteorder == "big":
            words.byteswap()  # the same seed gives the same draws on every machine
        out.extend(islice(filter(limit.__gt__, words), want))
    return out, limit


def draw_indices(rng: random.Random, n: int) -> list[int]:
    """n indices drawn uniformly with replacement from range(n), as the bootstrap draws them."""
    draws, _ = _draw(rng, n)
    return [j % n for j in draws]


class _Packed:
    """One stratum's columns packed side by side into one big integer per item.

    Each field gets ``width`` bits, wide enough that no resample's total can
    carry into the next field, so one C-level ``sum`` over the resampled
    items yields every column's total at once; that is what keeps 10,000
    items x 3 systems x 1000 resamples within a couple of seconds without
    NumPy. Negative values (paired differences) are shifted by a bias that
    is taken off again, times the stratum size, when unpacking.
    """

    def __init__(self, cols: Mapping[str, RatioColumn]) -> None:
        self.n = len(next(iter(cols.values())).weights) if cols else 0
        fields: list[Sequence[int]] = []
        weight_field: dict[tuple[int, ...], int] = {}
        self.slots: dict[str, tuple[int, int, int]] = {}  # key -> (value field, weight field, scale)
        for key, col in cols.items():
            if len(col.values) != self.n or len(col.weights) != self.n:
                raise ValueError(f"column {key!r} does not have {self.n} items")
            if not all(isinstance(v, int) for v in col.values):
                raise TypeError(f"column {key!r}: values must be integers (scale fractional measures)")
            wkey = tuple(col.weights)
            if wkey not in weight_field:
                weight_field[wkey] = len(fields)
                fields.append(col.weights)
            self.slots[key] = (len(fields), weight_field[wkey], col.scale)
            fields.append(col.values)
        self.bias = [max(0, -min(f, default=0)) for f in fields]
        top = max((max(f, default=0) + b for f, b in zip(fields, self.bias, strict=True)), default=0)
        self.width = max(1, (max(self.n, 1) * top).bit_length() + 1)
        self.mask = (1 << self.width) - 1
        self.fields = len(fields)
        shifts = [self.width * j for j in range(len(fields))]
        self.items = [
            sum((int(f[i]) + b) << sh for f, b, sh in zip(fields, self.bias, shifts, strict=True))
            for i in range(self.n)
        ]
        self.tables: dict[int, list[int]] = {}

    def totals(self, packed_sum: int) -> list[int]:
        return [
            ((packed_sum >> (self.width * j)) & self.mask) - self.bias[j] * self.n for j in range(self.fields)
        ]


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
    Strata are drawn in the mapping's order, so the caller fixes that order.
    """
    rng = random.Random(seed)
    names = sorted({k for cols in strata.values() for k in cols})
    scales = {k: col.scale for cols in strata.values() for k, col in cols.items()}
    packed = {s: _Packed(cols) for s, cols in strata.items()}
    per_stratum: dict[str, dict[str, list[float]]] = {s: {k: [] for k in cols} for s, cols in strata.items()}
    pooled: dict[str, list[float]] = {k: [] for k in names}
    for b in range(resamples):
        if on_resample is not None and b % 25 == 0:
            on_resample(b)
        totals = {k: [0, 0] for k in names}
        for stratum, pack in packed.items():
            n = pack.n
            if n == 0:
                continue
            draws, limit = _draw(rng, n)
            # Each item repeated limit // n times: entry j is item j % n.
            table = pack.tables.get(limit) or pack.tables.setdefault(limit, pack.items * (limit // n))
            picked = itemgetter(*draws)(table) if n > 1 else table[draws[0]:draws[0] + 1]
            fields = pack.totals(sum(picked))
            for key, (vf, wf, scale) in pack.slots.items():
                v, w = fields[vf], fields[wf]
                if w:
                    per_stratum[stratum][key].append(v / w / scale)
                t = totals[key]
                t[0] += v
                t[1] += w
        for key, (v, w) in totals.items():
            if w:
                pooled[key].append(v / w / scales[key])
    intervals = {
        s: {k: percentile_interval(est, confidence) for k, est in cols.items()}
        for s, cols in per_stratum.items()
    }
    return intervals, {k: percentile_interval(est, confidence) for k, est in pooled.items()}


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
    mean = n * (n + 1) / 4
    ties: dict[float, int] = {}
    for r in ranks:
        ties[r] = ties.get(r, 0) + 1
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t**3 - t for t in ties.values()) / 48
    if var <= 0:
        return SignedRankResult(n, w_plus, 1.0, False)
    z = max(abs(w_plus - mean) - 0.5, 0.0) / math.sqrt(var)
    return SignedRankResult(n, w_plus, math.erfc(z / math.sqrt(2)), False)
