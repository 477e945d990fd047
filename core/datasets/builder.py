"""Building a dataset: select targets, split, build contexts, check, store.

``preview`` answers the rules form's live counts (no contexts, no writing);
``build_dataset`` does the whole job, renders the files once (kept in the
workspace, ``rendered``) and stores the dataset only when every check passed;
``export_dataset`` writes the folder from what was stored: a copy of the kept
files while today's store would render the same ones, else a fresh render
that the content-hash check refuses if anything changed.
Nothing depends on the clock or on iteration order of unordered containers, so
the same store and rules give the same examples, ids and bytes.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import statistics
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from core.datasets import tokens
from core.datasets.card import WORD_BUCKETS, render_card
from core.datasets import rendered as rendered_files
from core.datasets.export import Example, KeptFilesUnusable, Rendered, copy_folder, hash_examples, write_folder
from core.datasets.items import Withheld, load_withheld, make_example, stored_example
from core.datasets.items import stored_examples as stored_examples_of_rows
from core.datasets.leakage import LeakageItem, check_leakage, equality_keys, normalise, normalised
from core.datasets.rules import DatasetRules, judge_sessions
from core.datasets.splits import assign_splits, example_id_for, same_prompt_as
from core.datasets.targets import (
    Message,
    Selection,
    context_windows,
    contexts_in_order,
    merge_turns,
    select_targets,
)
from core.errors import UsageError, ValidationError
from core.ids import TranscriptId, TurnId
from core.progress import TaskState, null_state
from core.store import Store
from core.store import datasets as ds_store
from core.store.datasets import SPLITS, CandidateRow, DatasetRecord, ExampleRow

MIN_TEST_ITEMS_PER_CATEGORY = 10
MAX_NAME_LENGTH = 100


def _without_cyclic_gc(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` with Python's cycle collector paused.

    A build allocates hundreds of thousands of tuples while it holds a large
    live heap (candidates, contexts, examples); each allocation burst made the
    collector walk that heap again, a fifth of a 1M-turn build's CPU time. Nothing
    here creates reference cycles (reference counting frees it all), and the
    collector is back on when ``fn`` returns or raises.
    """

    @functools.wraps(fn)
    def paused(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


# Shared planning ##############################################################


@dataclass(slots=True)
class _Plan:
    rules: DatasetRules
    selection: Selection
    # targets outside the frozen test split's groups, minus those that repeat a test target
    fresh: list[CandidateRow]
    split_of: dict[TurnId, str]
    frozen: DatasetRecord | None
    frozen_rows: list[ExampleRow]
    frozen_texts: dict[TurnId, tuple[str, str, int]]  # the frozen items' target and context turns
    text_key: dict[TurnId, str | bytes]  # of every target's text: equal when the normalised texts are
    removed: dict[str, int]
    status_of: dict[TurnId, str]  # decision-policy verdict of every candidate
    flagged: set[TurnId]
    prompt_key: dict[TurnId, str] = field(default_factory=dict)  # normalised client text each target answers

    def unreviewed(self, turn_ids: Iterable[TurnId]) -> int:
        # a frozen test item that is no longer a candidate (shortened by an edit) counts as unreviewed
        return sum(1 for t in turn_ids if self.status_of.get(t, "unreviewed") == "unreviewed")


def _plan(store: Store, rules: DatasetRules) -> _Plan:
    """Selection, frozen test split, split assignment and test-duplicate removal: all but contexts."""
    candidates = ds_store.candidate_targets(store, rules.min_words)
    # Whole sessions go first (demonstrations; source metadata such as AnnoMI's
    # mi_quality), each counted under the rule that left it out.
    verdicts = judge_sessions(rules, ds_store.transcript_metadata(store))
    left_out = verdicts.left_out
    session_removed = {"demo": sum(1 for c in candidates if c.transcript_id in verdicts.demo)}
    for rule, ids in verdicts.by_rule.items():
        session_removed[f"session rule: {rule}"] = sum(1 for c in candidates if c.transcript_id in ids)
    selection = select_targets([c for c in candidates if c.transcript_id not in left_out], rules)
    selection.candidates += sum(session_removed.values())
    removed = {**session_removed, **selection.removed}
    frozen = ds_store.frozen_test_dataset(store)
    frozen_rows = ds_store.examples_of(store, frozen.id, "test") if frozen else []
    frozen_texts: dict[TurnId, tuple[str, str, int]] = {}
    fresh = selection.targets
    if frozen is not None:
        barred_transcripts = {r.transcript_id for r in frozen_rows}
        info = ds_store.transcript_info(store, barred_transcripts)
        barred_clients = {i.client_key for i in info.values() if i.client_key}
        fresh = [
            t for t in selection.targets
            if t.transcript_id not in barred_transcripts and t.client_key not in barred_clients
        ]
        frozen_turns = {r.turn_id for r in frozen_rows}
        removed["frozen_test_holdout"] = sum(
            1 for t in selection.targets if t.turn_id not in frozen_turns
        ) - len(fresh)
        wanted = {r.turn_id for r in frozen_rows}
        wanted.update(t for r in frozen_rows for t in r.context_turn_ids)
        frozen_texts = _texts(store, wanted, f"the frozen test split of dataset {frozen.name!r}",
                              f"delete dataset {frozen.name!r} (and the datasets that reuse its test split) "
                              "to draw a new test split")
        # the client text a frozen item answers is its context's last turn
        same = same_prompt_as(fresh, (normalise(frozen_texts[r.context_turn_ids[-1]][1])
                                      for r in frozen_rows if r.context_turn_ids))
        fresh = [t for t in fresh if t.turn_id not in same]
        removed["same_prompt_as_test"] = len(same)
    # each client text normalised once: the split groups and the leakage check both compare them
    norm = normalised(t.prompt or "" for t in fresh)
    prompt_of = {t.turn_id: norm[t.prompt or ""] for t in fresh}
    split_of = dict(assign_splits(fresh, rules.split, rules.seed, with_test=frozen is None,
                                  prompt_keys=prompt_of).split_of)
    # A reply whose text is also a test target's would be seen in training and
    # then "predicted" in the test: keep it only on the test side.
    texts = {t.turn_id: t.text or "" for t in fresh}
    texts.update((r.turn_id, frozen_texts[r.turn_id][1]) for r in frozen_rows)
    text_key = equality_keys(texts)
    test_keys = {text_key[r.turn_id] for r in frozen_rows}
    test_keys.update(text_key[t.turn_id] for t in fresh if split_of[t.turn_id] == "test")
    kept = [t for t in fresh if split_of[t.turn_id] == "test" or text_key[t.turn_id] not in test_keys]
    removed["duplicates_test"] = len(fresh) - len(kept)
    prompt_key = {t.turn_id: prompt_of[t.turn_id] for t in kept}
    prompt_key.update((r.turn_id, normalise(frozen_texts[r.context_turn_ids[-1]][1]))
                      for r in frozen_rows if r.context_turn_ids)
    return _Plan(rules, selection, kept, split_of, frozen, frozen_rows, frozen_texts, text_key, removed,
                 {c.turn_id: c.status for c in candidates}, {c.turn_id for c in candidates if c.flagged},
                 prompt_key)


def _too_few_test_warnings(test_by_category: dict[str, int], categories: set[str]) -> list[str]:
    if categories and not any(test_by_category.values()):
        return ["the test split is empty: too few clients for these percentages (try a larger test share "
                "or another seed)"]
    return [
        f"category {cat}: only {test_by_category.get(cat, 0)} test items "
        f"(at least {MIN_TEST_ITEMS_PER_CATEGORY} are needed to evaluate it)"
        for cat in sorted(categories)
        if test_by_category.get(cat, 0) < MIN_TEST_ITEMS_PER_CATEGORY
    ]


# Preview (live counts for the rules form) ####################################


@dataclass(frozen=True, slots=True)
class Preview:
    rules: DatasetRules
    therapist_turns: int
    therapist_under_8: int
    candidates: int  # therapist turns of min_words+ words
    targets: int  # examples the build would make (the token-limit check needs contexts: not applied)
    unreviewed_targets: int
    flagged_targets: int
    removed: dict[str, int]
    splits: dict[str, int]
    by_category: dict[str, dict[str, int]]  # category → split → count
    all_lengths: dict[int, int]  # therapist turns: words (capped) → count
    target_lengths: dict[int, int]  # selected targets, same bins
    test_from: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def under_8_share(self) -> float:
        return self.therapist_under_8 / self.therapist_turns if self.therapist_turns else 0.0


def _cap(words: int) -> int:
    return min(words, ds_store.LENGTH_HISTOGRAM_CAP)


@_without_cyclic_gc
def preview(store: Store, rules: DatasetRules) -> Preview:
    """What the rules would select, per split and category, without building anything."""
    rules.validate()
    plan = _plan(store, rules)
    all_lengths = ds_store.therapist_length_counts(store)
    by_category: dict[str, dict[str, int]] = {}
    splits = dict.fromkeys(SPLITS, 0)
    target_lengths: Counter[int] = Counter()
    for t in plan.fresh:
        split = plan.split_of[t.turn_id]
        by_category.setdefault(t.category, dict.fromkeys(SPLITS, 0))[split] += 1
        splits[split] += 1
        target_lengths[_cap(t.words)] += 1
    for r in plan.frozen_rows:
        by_category.setdefault(r.category, dict.fromkeys(SPLITS, 0))["test"] += 1
        splits["test"] += 1
        target_lengths[_cap(r.target_words)] += 1
    test_counts = {c: v["test"] for c, v in by_category.items()}
    warnings = _too_few_test_warnings(test_counts, set(by_category))
    if splits["validation"] > tokens.MAX_VALIDATION_EXAMPLES:
        warnings.append(_validation_limit_warning(splits["validation"]))
    return Preview(
        rules=rules,
        therapist_turns=sum(all_lengths.values()),
        therapist_under_8=sum(n for w, n in all_lengths.items() if w < 8),
        candidates=plan.selection.candidates,
        targets=sum(splits.values()),
        unreviewed_targets=plan.unreviewed([*(t.turn_id for t in plan.fresh), *(r.turn_id for r in plan.frozen_rows)]),
        flagged_targets=len(plan.flagged & {*(t.turn_id for t in plan.fresh), *(r.turn_id for r in plan.frozen_rows)}),
        removed=plan.removed,
        splits=splits,
        by_category=by_category,
        all_lengths=all_lengths,
        target_lengths=dict(target_lengths),
        test_from=plan.frozen.name if plan.frozen else None,
        warnings=warnings,
    )


def _validation_limit_warning(n: int) -> str:
    return (
        f"{n} validation examples: Vertex AI accepts at most {tokens.MAX_VALIDATION_EXAMPLES}; "
        "lower the validation share or upload only part of the file"
    )


# Build ########################################################################


class _Item(NamedTuple):
    """An example before it has an id."""

    split: str
    turn_id: TurnId
    transcript_id: TranscriptId
    category: str
    words: int
    target: str
    context: tuple[Message, ...]
    order: str
    example_id: str = ""


def _order_key(seed: int, turn_id: int) -> str:
    # Seeded shuffle of the lines (tuning reads files in order); reproducible anywhere.
    return hashlib.sha256(f"{seed}\x00line\x00{turn_id}".encode()).hexdigest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise UsageError("a dataset needs a name")
    if len(name) > MAX_NAME_LENGTH or any(ch in name for ch in "\n\r\t/\\"):
        raise UsageError(f"dataset name {name[:40]!r}: at most {MAX_NAME_LENGTH} characters, "
                         "no slashes, tabs or line breaks")
    return name


@_without_cyclic_gc
def build_dataset(
    store: Store, name: str, rules: DatasetRules, state: TaskState | None = None
) -> DatasetRecord:
    """Build, check and store a dataset; raises (and stores nothing) on any failed check."""
    state = state or null_state()
    rules.validate()
    name = _check_name(name)
    if ds_store.dataset_exists(store, name):
        raise UsageError(f"a dataset named {name!r} already exists")
    state.update(0, 0, "selecting targets")
    at_start = rendered_files.store_state(store)
    plan = _plan(store, rules)
    state.check_cancelled()
    removed = plan.removed
    removed["over_token_limit"] = 0

    state.update(0, 0, "reading contexts")
    windows = context_windows(plan.fresh, rules)
    # every transcript an example can come from, read once (source hash, client, client names)
    info = ds_store.transcript_info(store, {t.transcript_id for t in plan.fresh}
                                    | {r.transcript_id for r in plan.frozen_rows})
    source_hash = {tid: i.content_hash for tid, i in info.items()}
    items: list[_Item] = []
    # What a clinician withheld (exclusions of any turn, redacted spans), read
    # once; contexts are cut at excluded turns, counted per reason.
    withheld = load_withheld(store)
    removed["excluded_context"] = 0
    cuts: dict[str, dict[str, int]] = {"shortened": {}, "dropped": {}}
    window_read: dict[TurnId, tuple[int, int, int, str, str, int]] = {}  # for the fingerprint, as read
    for target, context, cut in contexts_in_order(plan.fresh, ds_store.turns_in_ranges(store, windows), rules,
                                                  withheld, window_read):
        if context is None:
            if cut is None:  # cannot happen after select_targets; kept as a guard
                removed["no_client_turn"] += 1
            else:
                removed["excluded_context"] += 1
                cuts["dropped"][cut] = cuts["dropped"].get(cut, 0) + 1
            continue
        if cut is not None:
            cuts["shortened"][cut] = cuts["shortened"].get(cut, 0) + 1
        assert target.text is not None
        items.append(_Item(plan.split_of[target.turn_id], target.turn_id, target.transcript_id,
                           target.category, target.words, withheld.text(target.turn_id, target.text), context,
                           _order_key(rules.seed, target.turn_id),
                           example_id_for(source_hash[target.transcript_id], target.position,
                                          sum([len(m.turn_ids) for m in context]))))
    state.check_cancelled()
    items += _frozen_items(plan, rules.seed, withheld, removed, cuts)

    warnings: list[str] = []
    system = rules.system_instruction
    token_counts: dict[TurnId, int] = {}
    kept = []
    system_messages = 1 if system else 0
    system_words = len(system.split())
    for item in items:
        n = tokens.estimate(
            chars=len(system) + len(item.target) + sum([len(m.text) for m in item.context]),
            words=system_words + item.words + sum([m.words for m in item.context]),
            messages=system_messages + 1 + len(item.context),
        )
        if n > tokens.MAX_TOKENS_PER_EXAMPLE:
            if rules.over_limit == "drop" and item.split != "test":
                removed["over_token_limit"] += 1
                continue
            warnings.append(f"turn {item.turn_id}: about {n} tokens, over the "
                            f"{tokens.MAX_TOKENS_PER_EXAMPLE}-token limit per example")
        token_counts[item.turn_id] = n
        kept.append(item)
    items = kept
    state.check_cancelled()

    if not items:
        raise UsageError(
            f"no therapist turn matches the rules ({plan.selection.candidates} of {rules.min_words}+ words "
            "before the other rules); nothing was built"
        )
    client_of = {tid: i.client_key for tid, i in info.items()}
    check_leakage(
        LeakageItem(i.turn_id, i.split, i.transcript_id, client_of.get(i.transcript_id), plan.text_key[i.turn_id],
                    plan.prompt_key.get(i.turn_id, ""))
        for i in items
    )

    split_rank = {s: n for n, s in enumerate(SPLITS)}
    items.sort(key=lambda i: (split_rank[i.split], i.order))
    examples = [
        make_example(i.example_id, i.split, i.turn_id, i.transcript_id, i.category, i.words, i.target, i.context,
                     info[i.transcript_id].client_names if i.split == "test" else ())
        for i in items
    ]
    rows = [
        ExampleRow(e.example_id, e.split, e.turn_id, e.transcript_id, e.category, e.target_words,
                   tuple([t for m in e.context for t in m.turn_ids]))
        for e in examples
    ]
    # What the kept files are made from, from what this build read (not read
    # again: the store may have moved on); the window turns are let go before rendering.
    wanted = {r.turn_id for r in rows}
    wanted.update(t for r in rows for t in r.context_turn_ids)
    read = _turns_read(sorted(wanted), window_read, plan)
    window_read.clear()
    inputs = None if read is None else rendered_files.fingerprint(
        read, withheld, {t: info[t].client_names for t in {r.transcript_id for r in rows if r.split == "test"}})
    del read
    # One render: the pass that hashes the files also keeps them in the
    # workspace, so the export copies them instead of rendering again.
    with rendered_files.KeptFiles(store, name) as kept:
        rendered = hash_examples(examples, system, state, len(examples), rules.vertex_form, keep=kept.open)
        counts = _counts(plan, examples, token_counts, removed, rendered, warnings)
        counts["context_cuts"] = cuts
        counts["redacted_examples"] = _redacted_examples(examples, set(withheld.spans))
        entry = kept.counts_entry(inputs) if inputs is not None else None
        if entry is not None:
            counts[rendered_files.COUNTS_KEY] = entry
        state.check_cancelled()
        state.update(len(examples), len(examples), "saving")
        before_saving = rendered_files.store_state(store)
        dataset_id = ds_store.insert_dataset(
            store,
            name=name,
            rules=rules.to_dict(),
            seed=rules.seed,
            counts=counts,
            content_hash=rendered.content_hash,
            system_instruction=system,
            examples=rows,
            test_from=plan.frozen.id if plan.frozen else None,
            test_frozen=rules.freeze_test,
        )
        if kept.commit(rendered.content_hash) and entry is not None:
            rendered_files.remember_build(store, dataset_id, entry["inputs_sha256"], at_start, before_saving)
    rendered_files.prune(store)
    return ds_store.get_dataset(store, name)


def _turns_read(
    wanted: list[TurnId], window_read: dict[TurnId, tuple[int, int, int, str, str, int]], plan: _Plan
) -> tuple[list[TurnId], list[str], list[int], list[str]] | None:
    """(ids, roles, word counts, texts) of the wanted turns (ascending ids) as this build read them.

    A turn comes from a context window, the targets' query or the frozen test
    split's texts; read in two of them with different values (the store
    changed during the build), or in none, the answer is None. Column-wise
    (most turns are context turns: one lookup each, no loop in Python).
    """
    rows: list[tuple[Any, ...] | None] = list(map(window_read.get, wanted))
    n = len(wanted)
    others = [(t.turn_id, "therapist", t.text, t.words) for t in plan.fresh]
    others += [(t, role, text, words) for t, (role, text, words) in plan.frozen_texts.items()]
    for turn_id, role, text, words in others:
        i = bisect_left(wanted, turn_id)
        if i == n or wanted[i] != turn_id:
            continue  # not in any example
        row = rows[i]
        if row is None:
            rows[i] = (turn_id, None, None, role, text, words)
        elif row[3] != role or row[4] != text or row[5] != words:
            return None
    if None in rows:
        return None
    columns = [list(map(itemgetter(k), rows)) for k in (3, 5, 4)]  # type: ignore[arg-type]
    return wanted, columns[0], columns[1], columns[2]


def _redacted_examples(examples: list[Example], redacted: set[TurnId]) -> int:
    """Examples whose target or context holds a redacted turn (a plain loop: 80,000 examples at 1M turns)."""
    n = 0
    if not redacted:
        return 0
    for e in examples:
        if e.turn_id in redacted:
            n += 1
            continue
        for m in e.context:
            if not redacted.isdisjoint(m.turn_ids):
                n += 1
                break
    return n


def _frozen_items(
    plan: _Plan, seed: int, withheld: Withheld, removed: dict[str, int], cuts: dict[str, dict[str, int]]
) -> list[_Item]:
    """The frozen test split's items as frozen (same targets, same context turns), except that
    what a clinician has excluded or redacted since is withheld from them too."""
    out = []
    for r in plan.frozen_rows:
        outcome = stored_example(r, plan.frozen_texts, withheld)
        ex = outcome.example
        if outcome.target_excluded:
            removed["excluded"] = removed.get("excluded", 0) + 1
            continue
        if ex is None:
            removed["excluded_context"] = removed.get("excluded_context", 0) + 1
            cuts["dropped"][outcome.cut or ""] = cuts["dropped"].get(outcome.cut or "", 0) + 1
            continue
        if outcome.cut is not None:
            cuts["shortened"][outcome.cut] = cuts["shortened"].get(outcome.cut, 0) + 1
        # a frozen item keeps its id, so replies imported for it still match
        out.append(_Item("test", r.turn_id, r.transcript_id, r.category, r.target_words, ex.target,
                         ex.context, _order_key(seed, r.turn_id), r.example_id))
    return out


def _texts(store: Store, wanted: set[TurnId], what: str, remedy: str) -> dict[TurnId, tuple[str, str, int]]:
    texts = ds_store.turn_texts(store, wanted)
    missing = wanted - texts.keys()
    if missing:
        raise ValidationError(
            f"{what} refers to {len(missing)} turns that are no longer in the workspace "
            f"(e.g. turn {min(missing)}); {remedy}"
        )
    return texts


def _bucket(words: int) -> str:
    for low, high, label in WORD_BUCKETS:
        if words >= low and (high is None or words <= high):
            return label
    return WORD_BUCKETS[-1][2]


def _counts(
    plan: _Plan,
    examples: list[Example],
    token_counts: dict[TurnId, int],
    removed: dict[str, int],
    rendered: Rendered,
    warnings: list[str],
) -> dict[str, Any]:
    splits = dict.fromkeys(SPLITS, 0)
    by_category: dict[str, dict[str, int]] = {}
    buckets = {label: dict.fromkeys(SPLITS, 0) for _, _, label in WORD_BUCKETS}
    for e in examples:
        splits[e.split] += 1
        by_category.setdefault(e.category, dict.fromkeys(SPLITS, 0))[e.split] += 1
        buckets[_bucket(e.target_words)][e.split] += 1
    words = sorted(e.target_words for e in examples)
    warnings = list(warnings)
    warnings += _too_few_test_warnings({c: v["test"] for c, v in by_category.items()}, set(by_category))
    if splits["validation"] > tokens.MAX_VALIDATION_EXAMPLES:
        warnings.append(_validation_limit_warning(splits["validation"]))
    for name, size in rendered.sizes.items():
        if size > tokens.MAX_FILE_BYTES:
            warnings.append(f"{name}: {size} bytes, over Vertex AI's 1 GB per file")
    if splits["train"] == 0:
        warnings.append("the train split is empty")
    values = list(token_counts.values())
    return {
        "splits": splits,
        "by_category": by_category,
        "candidates": plan.selection.candidates,
        "unreviewed_targets": plan.unreviewed(e.turn_id for e in examples),
        "flagged_targets": len(plan.flagged & {e.turn_id for e in examples}),
        "removed": removed,
        "target_words": {
            "min": words[0] if words else 0,
            "median": statistics.median_low(words) if words else 0,
            "p90": words[int(0.9 * (len(words) - 1))] if words else 0,
            "max": words[-1] if words else 0,
            "buckets": buckets,
        },
        "tokens": {"max": max(values, default=0), "mean": round(sum(values) / len(values)) if values else 0},
        "files": rendered.files,
        "sizes": rendered.sizes,
        "training_hash": rendered.training_hash,
        "test_from_name": plan.frozen.name if plan.frozen else None,
        "warnings": warnings,
    }


# Export #######################################################################


def stored_examples(store: Store, record: DatasetRecord) -> Iterator[Example]:
    """The dataset's examples rebuilt from its stored membership, in file order."""
    rows = ds_store.examples_of(store, record.id)
    split_rank = {s: n for n, s in enumerate(SPLITS)}
    # the build's line order (ids are derived from the source, so not in file order)
    rows.sort(key=lambda r: (split_rank[r.split], _order_key(record.seed, r.turn_id)))
    # items.py renders each row under today's exclusions and redactions: an
    # example withheld since the build changes the files, and the hash check refuses.
    yield from stored_examples_of_rows(store, rows, what=f"dataset {record.name!r}")


@dataclass(frozen=True, slots=True)
class ExportResult:
    folder: Path
    files: dict[str, int]  # file name → bytes
    content_hash: str


@_without_cyclic_gc
def export_dataset(
    store: Store, name: str, out_dir: Path | str, state: TaskState | None = None
) -> ExportResult:
    """Write the dataset's folder; refuses (writing nothing) if the store no longer matches its hash."""
    state = state or null_state()
    record = ds_store.get_dataset(store, name)
    total = sum(record.counts.get("splits", {}).values())
    out = Path(out_dir)
    card = lambda r: render_card(record, r)  # noqa: E731
    rendered: Rendered | None = None
    kept = rendered_files.usable(store, record, lambda: load_withheld(store))
    if kept is not None:
        try:
            rendered = copy_folder(out, kept[0], kept[1], card, state=state, total=total)
        except KeptFilesUnusable:
            rendered = None  # damaged or replaced since the build: render, as for an older dataset
    if rendered is None:
        rendered = write_folder(
            out,
            stored_examples(store, record),
            record.system_instruction,
            card,
            expected_hash=record.content_hash,
            state=state,
            total=total,
            vertex_form=DatasetRules.from_dict(record.rules).vertex_form,
        )
    rendered_files.prune(store)
    files = dict(rendered.sizes)
    files["DATASET.md"] = (out / "DATASET.md").stat().st_size
    state.update(total, total, "done")
    return ExportResult(out, files, rendered.content_hash)
