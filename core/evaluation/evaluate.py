"""Scoring systems against the therapist's real replies, overall and per category.

Per system and category, over test items where the system has a usable
reply (stored, not blocked, not empty):

- Avg Length Diff (abs)    mean |words(t) - words(r)|
- Avg Sentence Diff (abs)  mean |sentences(t) - sentences(r)|
- Avg Sentiment Distance   mean |compound(t) - compound(r)|
- Name Usage Mismatch      items with a known client name where uses_name(t) != uses_name(r)
- Num of Questions Asked   sum questions(t); Replies With a Question: count has_question(t)
- n (items scored) and missing (items without a usable reply)

The therapist's questions are counted over all items of the block. Averages
over no items are ``None`` (JSON null). The JSON shape is documented in
docs/evaluation.md and locked by tests/fixtures/evaluation_golden.json.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import UsageError
from core.evaluation import stats
from core.evaluation.features import compute, reference_features
from core.evaluation.metrics import SCORER, TextFeatures, has_known_name, uses_name
from core.evaluation.sources import Reply, ReplySource, sources_named
from core.models import Category, EvalItem
from core.progress import TaskState, null_state
from core.store import Store

CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
AVERAGES = ("avg_length_diff", "avg_sentence_diff", "avg_sentiment_distance")
SYSTEM_KEYS = (
    "avg_length_diff",
    "avg_sentence_diff",
    "avg_sentiment_distance",
    "name_usage_mismatch",
    "questions",
    "replies_with_question",
    "n",
    "missing",
)
JSON_DECIMALS = 6
# Below this many items a table keeps its figures but gets no interval and no
# p-value: a bootstrap over a handful of items, or a signed-rank test over a
# few differences, gives numbers that look precise and mean little. The same
# minimum the dataset page and card warn about per category.
MIN_ITEMS = 10
SENTIMENT_NOTE = (
    "Sentiment is VADER's compound score, a general-purpose lexicon built for social-media "
    "text; it has not been validated on clinical dialogue, so treat sentiment distances as "
    "a rough signal only."
)


@dataclass(frozen=True, slots=True)
class ReplyScore:
    """One system's reply to one item, with its per-item distances (None if missing)."""

    text: str
    state: str  # ok | empty | blocked | none
    length_diff: int | None = None
    sentence_diff: int | None = None
    sentiment_distance: float | None = None
    name_mismatch: bool | None = None
    questions: int = 0

    @property
    def scored(self) -> bool:
        return self.length_diff is not None


@dataclass(frozen=True, slots=True)
class SystemScores:
    avg_length_diff: float | None
    avg_sentence_diff: float | None
    avg_sentiment_distance: float | None
    name_usage_mismatch: int
    questions: int
    replies_with_question: int
    n: int
    missing: int


@dataclass(frozen=True, slots=True)
class TherapistCounts:
    questions: int
    replies_with_question: int


@dataclass(frozen=True, slots=True)
class PairedMetric:
    mean_difference: float | None  # mean of (a - b); negative: a is closer to the therapist
    interval: stats.Interval | None
    wilcoxon_p: float | None
    nonzero: int


@dataclass(frozen=True, slots=True)
class PairedComparison:
    a: str
    b: str
    n: int  # items both systems replied to
    metrics: dict[str, PairedMetric]
    note: str | None = None  # why there is no interval or p-value, when there is none


@dataclass(frozen=True, slots=True)
class Block:
    n: int
    systems: dict[str, SystemScores]
    therapist: TherapistCounts
    intervals: dict[str, dict[str, stats.Interval | None]]
    paired: list[PairedComparison]
    note: str | None = None  # why the table has no intervals or p-values (too few items)


@dataclass(slots=True)
class EvaluationResult:
    dataset: str
    systems: list[str]
    seed: int
    resamples: int
    confidence: float
    overall: Block
    categories: dict[str, Block]
    items: list[EvalItem] = field(default_factory=list)
    min_items: int = MIN_ITEMS
    # system -> test items it has no stored reply for (empty and blocked replies are stored)
    no_reply: dict[str, int] = field(default_factory=dict)
    # example id -> system -> its reply and distances, for the item reader
    scores: dict[str, dict[str, ReplyScore]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": _block_json(self.overall),
            "categories": {name: _block_json(block) for name, block in self.categories.items()},
            "meta": {
                "dataset": self.dataset,
                "systems": list(self.systems),
                "seed": self.seed,
                "resamples": self.resamples,
                "confidence": self.confidence,
                "scorer": SCORER,
                "intervals": "stratified percentile bootstrap over test items (docs/evaluation.md)",
                "paired_test": "Wilcoxon signed-rank, two-sided",
                "sentiment_note": SENTIMENT_NOTE,
                "min_items": self.min_items,
                "no_reply": {name: self.no_reply.get(name, 0) for name in self.systems},
            },
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, JSON_DECIMALS)


def _p(x: float | None) -> float | None:
    # Six significant digits, never decimals: a p-value of 3e-9 must not read as 0.0. The
    # normal approximation underflows to 0.0 past z ≈ 38 (about 2,000 items all one way):
    # such a p is reported as the smallest normal float, an upper bound, never as 0.
    if x is None:
        return None
    return float(f"{max(x, sys.float_info.min):.6g}")


def _interval_json(iv: stats.Interval | None) -> list[float] | None:
    return None if iv is None else [round(iv[0], JSON_DECIMALS), round(iv[1], JSON_DECIMALS)]


def _block_json(block: Block) -> dict[str, Any]:
    return {
        "n": block.n,
        "note": block.note,
        "systems": {
            name: {
                "avg_length_diff": _r(s.avg_length_diff),
                "avg_sentence_diff": _r(s.avg_sentence_diff),
                "avg_sentiment_distance": _r(s.avg_sentiment_distance),
                "name_usage_mismatch": s.name_usage_mismatch,
                "questions": s.questions,
                "replies_with_question": s.replies_with_question,
                "n": s.n,
                "missing": s.missing,
            }
            for name, s in block.systems.items()
        },
        "therapist": {
            "questions": block.therapist.questions,
            "replies_with_question": block.therapist.replies_with_question,
        },
        "intervals": {
            name: {metric: _interval_json(iv) for metric, iv in ivs.items()}
            for name, ivs in block.intervals.items()
        },
        "paired": [
            {
                "systems": [p.a, p.b],
                "n": p.n,
                "note": p.note,
                **{
                    metric: {
                        "mean_difference": _r(m.mean_difference),
                        "interval": _interval_json(m.interval),
                        "wilcoxon_p": _p(m.wilcoxon_p),
                        "nonzero": m.nonzero,
                    }
                    for metric, m in p.metrics.items()
                },
            }
            for p in block.paired
        ],
    }


def parse_systems(text: str) -> list[str]:
    """``"base, tuned"`` -> ["base", "tuned"]; refuses empty and repeated names."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--systems: name at least one system, e.g. --systems base,tuned")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"--systems: {repeated[0]!r} is named twice")
    return names


def _category_name(text: str) -> str:
    try:
        return Category.parse(text).value
    except ValueError:
        return text  # unexpected, but never silently merged into another category


def _with_features(
    store: Store,
    system: ReplySource,
    replies: dict[str, Reply],
    items: Sequence[EvalItem],
    references: dict[str, TextFeatures],
    state: TaskState,
) -> dict[str, Reply]:
    """Every usable reply with its features: stored, the reference's, or computed now and kept.

    Features are a function of the text alone, so a reply that is word for word
    the therapist's (the built-in therapist system, a model that copied it) takes
    the reference's features instead of being scored again.
    """
    reference_text = {item.example_id: item.reference for item in items}
    # `features is None` first: in a later evaluation every reply has them, and `usable` is a call.
    same = {eid for eid, r in replies.items()
            if r.features is None and r.usable and r.text == reference_text.get(eid)}
    todo = {eid: r.text for eid, r in replies.items() if r.features is None and r.usable and eid not in same}
    if not todo and not same:
        return replies
    fresh = compute(list(todo.values()), state=state, label=f"Scoring {system.name}'s replies") if todo else {}
    found = {eid: references[eid] for eid in same} | {eid: fresh[text] for eid, text in todo.items()}
    system.keep_features(store, sorted(found.items()))
    return {eid: replace(r, features=found[eid]) if eid in found else r for eid, r in replies.items()}


def _score_reply(
    reply: Reply | None, item: EvalItem, ref_f: TextFeatures, ref_uses_name: bool | None
) -> ReplyScore:
    """``ref_uses_name`` is None when the item has no known client name."""
    if reply is None:
        return ReplyScore("", "none")
    if not reply.usable:
        return ReplyScore(reply.text, reply.state if reply.state != "ok" else "empty")
    f = reply.features
    assert f is not None  # _with_features gave every usable reply its features
    return ReplyScore(
        text=reply.text,
        state="ok",
        length_diff=abs(f.words - ref_f.words),
        sentence_diff=abs(f.sentences - ref_f.sentences),
        sentiment_distance=abs(f.compound - ref_f.compound),
        name_mismatch=(uses_name(reply.text, item.client_names) != ref_uses_name)
        if ref_uses_name is not None
        else False,
        questions=f.questions,
    )


def _summarise(scores: Sequence[ReplyScore]) -> SystemScores:
    scored = [s for s in scores if s.length_diff is not None]  # .scored, without a call per reply
    n = len(scored)

    def mean(values: list[float]) -> float | None:
        return sum(values) / n if n else None

    return SystemScores(
        avg_length_diff=mean([s.length_diff for s in scored]),  # type: ignore[misc]
        avg_sentence_diff=mean([s.sentence_diff for s in scored]),  # type: ignore[misc]
        avg_sentiment_distance=mean([s.sentiment_distance for s in scored]),  # type: ignore[misc]
        name_usage_mismatch=sum(1 for s in scored if s.name_mismatch),
        questions=sum(s.questions for s in scored),
        replies_with_question=sum(1 for s in scored if s.questions > 0),
        n=n,
        missing=len(scores) - n,
    )


_METRIC_FIELD = {
    "avg_length_diff": "length_diff",
    "avg_sentence_diff": "sentence_diff",
    "avg_sentiment_distance": "sentiment_distance",
}


# Sentiment distances enter the bootstrap as integer millionths (compound
# scores have four decimals, so this is exact); word and sentence counts as is.
_SCALE = {"avg_length_diff": 1, "avg_sentence_diff": 1, "avg_sentiment_distance": 1_000_000}


def _scaled_values(column: list[ReplyScore]) -> dict[str, list[int]]:
    """Each metric's per-item values as the bootstrap takes them: scaled integers, 0 where not scored."""
    million = _SCALE["avg_sentiment_distance"]
    assert _SCALE["avg_length_diff"] == _SCALE["avg_sentence_diff"] == 1  # counts go in as they are
    return {
        "avg_length_diff": [s.length_diff if s.length_diff is not None else 0 for s in column],
        "avg_sentence_diff": [s.sentence_diff if s.sentence_diff is not None else 0 for s in column],
        "avg_sentiment_distance": [
            round(s.sentiment_distance * million) if s.sentiment_distance is not None else 0 for s in column
        ],
    }


def _columns(
    scores: list[dict[str, ReplyScore]], systems: list[str], pairs: list[tuple[str, str]]
) -> dict[str, stats.RatioColumn]:
    cols: dict[str, stats.RatioColumn] = {}
    weights: dict[str, list[int]] = {}
    values: dict[str, dict[str, list[int]]] = {}
    for name in systems:
        column = [row[name] for row in scores]
        weights[name] = [0 if s.length_diff is None else 1 for s in column]  # 1 where .scored
        values[name] = _scaled_values(column)
        for metric in _METRIC_FIELD:
            cols[f"{name}\x00{metric}"] = stats.RatioColumn(values[name][metric], weights[name], _SCALE[metric])
    for a, b in pairs:
        both = [wa & wb for wa, wb in zip(weights[a], weights[b], strict=True)]
        for metric in _METRIC_FIELD:
            pair_values = [
                va - vb if w else 0
                for va, vb, w in zip(values[a][metric], values[b][metric], both, strict=True)
            ]
            cols[f"{a}\x00{b}\x00{metric}"] = stats.RatioColumn(pair_values, both, _SCALE[metric])
    return cols


def _block(
    rows: list[tuple[EvalItem, dict[str, ReplyScore]]],
    ref_questions: list[int],
    systems: list[str],
    pairs: list[tuple[str, str]],
    intervals: dict[str, stats.Interval | None],
    min_items: int = MIN_ITEMS,
) -> Block:
    note = None
    if 0 < len(rows) < min_items:
        note = f"only {len(rows)} test items (at least {min_items} are needed for intervals and p-values)"
        intervals = {}
    paired = []
    for a, b in pairs:
        both = [(sa, sb) for _, sc in rows
                if (sa := sc[a]).length_diff is not None and (sb := sc[b]).length_diff is not None]
        pair_note = note
        if pair_note is None and 0 < len(both) < min_items:
            pair_note = (f"only {len(both)} items answered by both (at least {min_items} are needed "
                         "for an interval and a p-value)")
        metrics = {}
        differences = {  # per metric: a's distance minus b's, item by item (as _METRIC_FIELD names them)
            "avg_length_diff": [sa.length_diff - sb.length_diff for sa, sb in both],
            "avg_sentence_diff": [sa.sentence_diff - sb.sentence_diff for sa, sb in both],
            "avg_sentiment_distance": [sa.sentiment_distance - sb.sentiment_distance for sa, sb in both],
        }
        for metric in _METRIC_FIELD:
            diffs = differences[metric]
            test = stats.wilcoxon_signed_rank(diffs) if diffs and pair_note is None else None
            metrics[metric] = PairedMetric(
                mean_difference=sum(diffs) / len(diffs) if diffs else None,
                interval=intervals.get(f"{a}\x00{b}\x00{metric}") if pair_note is None else None,
                wilcoxon_p=test.p_value if test else None,
                nonzero=sum(1 for d in diffs if d != 0) if test is None else test.n,
            )
        paired.append(PairedComparison(a, b, len(both), metrics, pair_note))
    return Block(
        n=len(rows),
        systems={name: _summarise([sc[name] for _, sc in rows]) for name in systems},
        therapist=TherapistCounts(
            questions=sum(ref_questions), replies_with_question=sum(1 for q in ref_questions if q > 0)
        ),
        intervals={
            name: {metric: intervals.get(f"{name}\x00{metric}") for metric in AVERAGES} for name in systems
        },
        paired=paired,
        note=note,
    )


def _bootstrap_progress(state: TaskState, done: int, total: int) -> None:
    state.check_cancelled()
    state.update(done, total, "Bootstrap intervals")


def evaluate(
    store: Store,
    dataset_name: str,
    systems: list[str],
    *,
    seed: int = 0,
    resamples: int = stats.RESAMPLES,
    state: TaskState | None = None,
    min_items: int | None = None,
) -> EvaluationResult:
    """Score ``systems`` on the dataset's test items; deterministic for a given seed.

    ``min_items`` (default ``MIN_ITEMS``): tables with fewer items get no intervals or p-values.
    """
    state = state or null_state()
    min_items = MIN_ITEMS if min_items is None else min_items
    if not systems:
        raise UsageError("name at least one system to evaluate")
    if len(set(systems)) != len(systems):
        raise UsageError("a system is named twice")
    if resamples < 1:
        raise UsageError("resamples must be at least 1")
    # Here, not at the top: `attune systems` and reply imports load this package without
    # needing the dataset builder (~90 ms to import).
    from core.datasets.catalog import get_dataset
    from core.datasets.items import eval_items  # the exported test items, under today's exclusions

    state.update(0, 0, "Reading test items")
    dataset = get_dataset(store, dataset_name)
    items = eval_items(store, dataset.id)
    sources = sources_named(store, systems)  # every name checked before any work
    replies = {name: src.replies(store, dataset.id, items) for name, src in sources.items()}
    state.check_cancelled()

    ref_feats = reference_features(store, items, state=state)
    by_example = {item.example_id: ref_feats[item.turn_id] for item in items}
    for name, src in sources.items():
        replies[name] = _with_features(store, src, replies[name], items, by_example, state)
    state.check_cancelled()

    scores: dict[str, dict[str, ReplyScore]] = {}
    by_category: dict[str, list[tuple[EvalItem, dict[str, ReplyScore]]]] = {c: [] for c in CATEGORIES}
    category_of: dict[str, str] = {}  # an item's category text -> its block (a handful of distinct texts)
    for item in items:
        ref_f = by_example[item.example_id]
        ref_uses = uses_name(item.reference, item.client_names) if has_known_name(item.client_names) else None
        row = {
            name: _score_reply(replies[name].get(item.example_id), item, ref_f, ref_uses)
            for name in systems
        }
        scores[item.example_id] = row
        category = category_of.get(item.category)
        if category is None:
            category = category_of[item.category] = _category_name(item.category)
        by_category.setdefault(category, []).append((item, row))

    pairs = list(itertools.combinations(systems, 2))
    strata = {
        cat: _columns([sc for _, sc in rows], systems, pairs) for cat, rows in by_category.items()
    }
    cat_intervals, pooled = stats.stratified_bootstrap(
        strata,
        seed=seed,
        resamples=resamples,
        on_resample=lambda b: _bootstrap_progress(state, b, resamples),
    )
    state.update(resamples, resamples, "Bootstrap intervals")

    def ref_q(rows: list[tuple[EvalItem, dict[str, ReplyScore]]]) -> list[int]:
        return [by_example[item.example_id].questions for item, _ in rows]

    all_rows = [row for rows in by_category.values() for row in rows]
    return EvaluationResult(
        dataset=dataset.name,
        systems=list(systems),
        seed=seed,
        resamples=resamples,
        confidence=stats.CONFIDENCE,
        overall=_block(all_rows, ref_q(all_rows), systems, pairs, pooled, min_items),
        categories={
            cat: _block(rows, ref_q(rows), systems, pairs, cat_intervals[cat], min_items)
            for cat, rows in by_category.items()
        },
        items=items,
        scores=scores,
        min_items=min_items,
        no_reply={name: sum(1 for item in items if item.example_id not in replies[name]) for name in systems},
    )


def missing_reply_lines(result: EvaluationResult) -> list[str]:
    """One line per system that has no stored reply for some test items (empty in a complete run)."""
    total = len(result.items)
    return [
        f"system {name!r} has no reply for {n} of {total} test items of dataset {result.dataset!r}"
        for name, n in result.no_reply.items()
        if n
    ]
