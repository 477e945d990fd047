"""Dataset builder: targets, contexts, splits, the decision policy, frozen test, leakage."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import curation
from core.datasets import DatasetRules, LeakageError, build_dataset, preview
from core.datasets import builder as builder_module
from core.datasets.builder import stored_examples
from core.datasets.items import eval_items
from core.datasets.leakage import LeakageItem, find_leaks, normalise
from core.datasets.splits import Assignment
from core.datasets.targets import _last_messages, merge_turns, trim_context
from core.errors import UsageError
from core.ids import TurnId
from core.models import Category, ParsedTranscript, Role
from core.store import Store
from core.store import datasets as ds_store
from core.store import transcripts as transcript_store
from core.store.decisions import ExcludeReason
from tests.core.datasets_fixtures import add_session, open_populated, populate, turn


@pytest.fixture
def populated(workspace: Path):
    store = open_populated(workspace)
    yield store
    store.close()


def _turn_roles(store: Store, ids) -> list[tuple[str, int, int]]:
    out = []
    for tid in ids:
        t = transcript_store.get_turn(store, tid)
        out.append((t.role.value, t.transcript_id, t.position))
    return out


def _runs(roles: list[str]) -> list[str]:
    runs: list[str] = []
    for r in roles:
        if not runs or runs[-1] != r:
            runs.append(r)
    return runs


def test_every_target_is_a_therapist_turn_with_enough_words(populated: Store) -> None:
    for min_words in (50, 20):
        record = build_dataset(populated, f"d{min_words}", DatasetRules(min_words=min_words))
        rows = ds_store.examples_of(populated, record.id)
        assert rows
        for row in rows:
            t = transcript_store.get_turn(populated, row.turn_id)
            assert t.role is Role.THERAPIST
            assert t.word_count >= min_words
            assert len(t.text.split()) >= min_words
            assert row.target_words == t.word_count
    # a lower threshold can only add targets
    n20 = len(ds_store.examples_of(populated, ds_store.get_dataset(populated, "d20").id))
    n50 = len(ds_store.examples_of(populated, ds_store.get_dataset(populated, "d50").id))
    assert n20 > n50


@pytest.mark.parametrize("context_turns", [8, 3, 1])
def test_every_context_alternates_and_starts_and_ends_on_a_client_turn(populated: Store, context_turns: int) -> None:
    record = build_dataset(populated, "d", DatasetRules(context_turns=context_turns))
    rows = ds_store.examples_of(populated, record.id)
    assert rows
    for row in rows:
        target = transcript_store.get_turn(populated, row.turn_id)
        info = _turn_roles(populated, row.context_turn_ids)
        assert info, f"example {row.example_id} has no context"
        roles = [r for r, _, _ in info]
        assert "other" not in roles
        assert all(tid == target.transcript_id for _, tid, _ in info)
        positions = [p for _, _, p in info]
        assert positions == sorted(positions) and positions[-1] < target.position
        runs = _runs(roles)
        assert runs[0] == "client" and runs[-1] == "client"
        assert len(runs) <= context_turns and len(runs) % 2 == 1
        # nothing between the context and the target except 'other' turns
        between = [t for t in transcript_store.turns_of(populated, target.transcript_id)
                   if positions[-1] < t.position < target.position]
        assert all(t.role is Role.OTHER for t in between)


def test_context_merges_same_role_turns_and_drops_other_turns(store: Store) -> None:
    long = " ".join(["word"] * 60)
    turns = [
        turn(Role.CLIENT, "First client."),
        turn(Role.THERAPIST, "Short reply."),
        turn(Role.CLIENT, "Second client."),
        turn(Role.OTHER, "Interpreter aside."),
        turn(Role.CLIENT, "Third client."),
        turn(Role.THERAPIST, long),
        turn(Role.THERAPIST, long + " again"),  # follows a therapist turn: not a target
    ]
    add_session(store, ParsedTranscript("Crafted", "test", turns, Category.ANXIETY, "c1", ["Ann"]), "crafted")
    record = build_dataset(store, "d", DatasetRules(split=(100, 0, 0)))
    rows = ds_store.examples_of(store, record.id)
    assert len(rows) == 1
    assert record.counts["removed"]["no_client_turn"] == 1
    context = _turn_roles(store, rows[0].context_turn_ids)
    assert [p for _, _, p in context] == [0, 1, 2, 4]
    items = list(stored_examples(store, record))
    assert [(m.role, m.text) for m in items[0].context] == [
        ("client", "First client."),
        ("therapist", "Short reply."),
        ("client", "Second client.\nThird client."),
    ]


def test_character_budget_cuts_whole_turns_and_keeps_the_last_client_turn(store: Store) -> None:
    long = " ".join(["word"] * 60)
    turns = []
    for i in range(6):
        turns += [turn(Role.CLIENT, f"Client turn {i} " + "x" * 100), turn(Role.THERAPIST, f"Therapist {i}.")]
    turns += [turn(Role.CLIENT, "Last client turn " + "y" * 500), turn(Role.THERAPIST, long)]
    add_session(store, ParsedTranscript("Budget", "test", turns, Category.ANXIETY, "c1", ["Ann"]), "budget")
    # last client turn 517 chars, earlier client turns 114, therapist turns 12
    for budget, expected_messages in ((10_000, 7), (895, 7), (894, 5), (700, 3), (642, 1), (10, 1)):
        record = build_dataset(store, f"b{budget}", DatasetRules(context_chars=budget, split=(100, 0, 0)))
        rows = ds_store.examples_of(store, record.id)
        target_row = next(r for r in rows if transcript_store.get_turn(store, r.turn_id).text == long)
        runs = _runs([r for r, _, _ in _turn_roles(store, target_row.context_turn_ids)])
        assert len(runs) == expected_messages, budget
        texts = [transcript_store.get_turn(store, t).text for t in target_row.context_turn_ids]
        assert texts[-1].startswith("Last client turn")
        if expected_messages > 1:
            assert sum(len(t) for t in texts) <= budget


def test_no_client_or_transcript_crosses_splits(populated: Store) -> None:
    for seed in (0, 1, 2):
        record = build_dataset(populated, f"s{seed}", DatasetRules(seed=seed))
        rows = ds_store.examples_of(populated, record.id)
        by_transcript: dict[int, set[str]] = defaultdict(set)
        by_client: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            t = transcript_store.get_transcript(populated, row.transcript_id)
            by_transcript[row.transcript_id].add(row.split)
            if t.client_key:
                by_client[t.client_key].add(row.split)
        assert all(len(s) == 1 for s in by_transcript.values())
        assert all(len(s) == 1 for s in by_client.values())
        assert {r.split for r in rows} == {"train", "validation", "test"}


def test_splits_follow_the_percentages_per_category(workspace: Path) -> None:
    store = open_populated(workspace, n_sessions=200, seed=3)
    try:
        record = build_dataset(store, "d", DatasetRules(split=(70, 15, 15)))
        per_cat = record.counts["by_category"]
        assert len(per_cat) == 4
        for cat, counts in per_cat.items():
            total = sum(counts.values())
            assert counts["train"] / total == pytest.approx(0.70, abs=0.12), cat
            assert counts["test"] / total == pytest.approx(0.15, abs=0.10), cat
            assert counts["validation"] > 0 and counts["test"] > 0, cat
    finally:
        store.close()


def test_same_seed_same_split_other_seed_different(populated: Store) -> None:
    def membership(name: str) -> dict[int, str]:
        rec = ds_store.get_dataset(populated, name)
        return {r.turn_id: r.split for r in ds_store.examples_of(populated, rec.id)}

    build_dataset(populated, "a", DatasetRules(seed=5))
    build_dataset(populated, "b", DatasetRules(seed=5))
    build_dataset(populated, "c", DatasetRules(seed=6))
    assert membership("a") == membership("b")
    assert membership("a") != membership("c")
    assert set(membership("a")) == set(membership("c"))


def test_decision_policy_exclusion_rating_and_reviewed_only(populated: Store) -> None:
    base = build_dataset(populated, "base", DatasetRules())
    targets = [r.turn_id for r in ds_store.examples_of(populated, base.id)]
    excluded, low, high, included = targets[0], targets[1], targets[2], targets[3]
    curation.exclude(populated, [excluded], rater="r1", reason=ExcludeReason.OTHER)
    curation.rate(populated, [low], rater="r1", rating=2)
    curation.rate(populated, [high], rater="r1", rating=5)
    curation.include(populated, [included, high], rater="r2")

    rec = build_dataset(populated, "rated", DatasetRules(min_rating=3))
    ids = {r.turn_id for r in ds_store.examples_of(populated, rec.id)}
    assert excluded not in ids and low not in ids
    assert high in ids and included in ids
    assert rec.counts["removed"]["excluded"] == 1
    assert rec.counts["removed"]["below_rating"] == 1
    assert len(ids) == len(targets) - 2
    # unreviewed targets are counted: all but the rated/included ones
    # unreviewed: what is left once the two removed and the two included are taken away
    assert rec.counts["unreviewed_targets"] == len(targets) - 4

    only = build_dataset(populated, "reviewed", DatasetRules(reviewed_only=True, split=(100, 0, 0)))
    assert {r.turn_id for r in ds_store.examples_of(populated, only.id)} == {included, high}
    assert only.counts["unreviewed_targets"] == 0


def test_frozen_test_split_survives_new_curation_decisions(populated: Store) -> None:
    first = build_dataset(populated, "first", DatasetRules(freeze_test=True))
    frozen = ds_store.examples_of(populated, first.id, "test")
    assert frozen and first.test_frozen
    # New decisions touching the frozen items and everything else, and new material.
    curation.include(populated, [frozen[0].turn_id], rater="r1")
    train_rows = ds_store.examples_of(populated, first.id, "train")
    curation.exclude(populated, [r.turn_id for r in train_rows[:5]], rater="r1", reason=ExcludeReason.OTHER)
    populate(populated, n_sessions=20, seed=99)
    # ... except an exclusion, which holds everywhere: that item leaves the frozen split
    curation.exclude(populated, [frozen[1].turn_id], rater="r2", reason=ExcludeReason.CLINICAL)
    kept = [r for r in frozen if r.turn_id != frozen[1].turn_id]

    second = build_dataset(populated, "second", DatasetRules(seed=11, split=(70, 20, 10)))
    test2 = ds_store.examples_of(populated, second.id, "test")
    gone = frozen[1].turn_id
    by_turn = {r.turn_id: r for r in test2}
    assert sorted(by_turn) == sorted(r.turn_id for r in kept)
    for r in kept:
        now = by_turn[r.turn_id]
        assert now.category == r.category
        if gone in r.context_turn_ids:  # a context that held the excluded turn starts after it
            after = r.context_turn_ids[r.context_turn_ids.index(gone) + 1:]
            assert now.context_turn_ids and set(now.context_turn_ids) <= set(after)
        else:
            assert now.context_turn_ids == r.context_turn_ids
    # the frozen items keep their ids, so replies imported for them still match
    assert {r.example_id for r in test2} == {r.example_id for r in kept}
    assert second.test_from == first.id
    frozen_transcripts = {r.transcript_id for r in frozen}
    frozen_clients = {transcript_store.get_transcript(populated, t).client_key for t in frozen_transcripts} - {None}
    for row in ds_store.examples_of(populated, second.id):
        if row.split == "test":
            continue
        assert row.transcript_id not in frozen_transcripts
        assert transcript_store.get_transcript(populated, row.transcript_id).client_key not in frozen_clients
    assert second.counts["removed"]["frozen_test_holdout"] > 0
    # only frozen[0] has a decision among the second dataset's examples (it stays: it was included)
    assert second.counts["unreviewed_targets"] == len(ds_store.examples_of(populated, second.id)) - 1
    # the newly excluded training turns are gone from the new dataset
    assert not {r.turn_id for r in train_rows[:5]} & {r.turn_id for r in ds_store.examples_of(populated, second.id)}
    with pytest.raises(UsageError, match="frozen test split"):
        ds_store.delete_dataset(populated, "first")


def test_leakage_check_refuses_a_crafted_leaking_build(populated: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    real = builder_module.assign_splits

    def leaky(targets, percentages, seed, *, with_test=True, **kwargs):
        a = real(targets, percentages, seed, with_test=with_test, **kwargs)
        # move one target of a test transcript into train
        test_turn = next(t for t, s in sorted(a.split_of.items()) if s == "test")
        transcript = next(t.transcript_id for t in targets if t.turn_id == test_turn)
        others = [t.turn_id for t in targets if t.transcript_id == transcript and t.turn_id != test_turn]
        split_of = dict(a.split_of)
        split_of[others[0] if others else test_turn] = "train"
        if not others:  # a single-target transcript: leak through its client instead
            pytest.skip("fixture has no multi-target test transcript")
        return Assignment(split_of, a.group_of)

    monkeypatch.setattr(builder_module, "assign_splits", leaky)
    with pytest.raises(LeakageError, match=r"leakage check failed.*transcript \d+ has test targets and train"):
        build_dataset(populated, "leaky", DatasetRules())
    assert ds_store.list_datasets(populated) == []


def test_find_leaks_reports_clients_and_duplicate_texts() -> None:
    items = [
        LeakageItem(TurnId(1), "test", 10, "alice", "I hear you, and that matters."),
        LeakageItem(TurnId(2), "train", 11, "alice", "Something else entirely."),
        LeakageItem(TurnId(3), "train", 12, "bob", "i hear you and THAT matters"),
        LeakageItem(TurnId(4), "validation", 13, None, "Fine."),
    ]
    items = [LeakageItem(i.turn_id, i.split, i.transcript_id, i.client_key, normalise(i.text_key)) for i in items]
    reasons = find_leaks(items)
    assert any("client 'alice'" in r and "train" in r for r in reasons)
    assert any("turn 1" in r and "turn 3" in r for r in reasons)
    assert len(reasons) == 2
    assert find_leaks([i for i in items if i.turn_id in (1, 4)]) == []


def test_train_never_holds_a_test_target_text(store: Store) -> None:
    same = "I can hear how hard this week has been for you and " * 6
    for i in range(30):
        turns = [turn(Role.CLIENT, f"Client {i} speaks."), turn(Role.THERAPIST, same if i % 3 == 0 else f"Reply {i} " * 30)]
        add_session(store, ParsedTranscript(f"S{i}", "test", turns, Category.SADNESS, f"k{i}", [f"N{i}"]), f"dup{i}")
    record = build_dataset(store, "d", DatasetRules(split=(60, 10, 30)))
    rows = ds_store.examples_of(store, record.id)
    texts = {r.split: set() for r in rows}
    for r in rows:
        texts[r.split].add(" ".join(transcript_store.get_turn(store, r.turn_id).text.split()).lower())
    assert not texts.get("test", set()) & texts.get("train", set())
    assert record.counts["removed"]["duplicates_test"] + sum(1 for r in rows if "hard this week" in
                                                              transcript_store.get_turn(store, r.turn_id).text) == 10


def test_preview_counts_match_the_build(populated: Store) -> None:
    curation.exclude(populated, [ds_store.candidate_targets(populated, 50)[0].turn_id], rater="r", reason=ExcludeReason.OTHER)
    rules = DatasetRules(seed=4)
    p = preview(populated, rules)
    record = build_dataset(populated, "d", rules)
    assert p.splits == record.counts["splits"]
    assert p.by_category == record.counts["by_category"]
    assert p.removed["excluded"] == record.counts["removed"]["excluded"] == 1
    assert p.unreviewed_targets == record.counts["unreviewed_targets"]
    turns = [t for tid in [*transcript_store.list_transcripts(populated)]
             for t in transcript_store.turns_of(populated, tid.id) if t.role is Role.THERAPIST]
    assert p.therapist_turns == len(turns)
    assert p.therapist_under_8 == sum(1 for t in turns if t.word_count < 8)
    assert sum(p.all_lengths.values()) == len(turns)
    assert sum(p.target_lengths.values()) == p.targets
    assert all(w >= 50 for w in p.target_lengths)


def test_too_few_test_items_per_category_are_warned(populated: Store) -> None:
    p = preview(populated, DatasetRules())
    small = [c for c, v in p.by_category.items() if v["test"] < 10]
    assert small
    for cat in small:
        assert any(cat in w and "test items" in w for w in p.warnings)


def test_bad_rules_and_names_are_refused_before_anything_is_stored(populated: Store) -> None:
    with pytest.raises(UsageError, match="split"):
        build_dataset(populated, "x", DatasetRules(split=(90, 20, 10)))
    with pytest.raises(UsageError, match="min_rating"):
        build_dataset(populated, "x", DatasetRules(min_rating=7))
    with pytest.raises(UsageError, match="name"):
        build_dataset(populated, "  ", DatasetRules())
    with pytest.raises(UsageError, match="no therapist turn matches"):
        build_dataset(populated, "x", DatasetRules(min_words=100_000))
    build_dataset(populated, "x", DatasetRules())
    with pytest.raises(UsageError, match="already exists"):
        build_dataset(populated, "x", DatasetRules())
    assert [d.name for d in ds_store.list_datasets(populated)] == ["x"]


def test_rules_are_stored_and_round_trip(populated: Store) -> None:
    rules = DatasetRules(min_words=40, context_turns=5, min_rating=2.5, seed=9, split=(70, 20, 10),
                         system_instruction="Be kind.", freeze_test=True)
    record = build_dataset(populated, "r", rules)
    assert DatasetRules.from_dict(record.rules) == rules
    assert record.seed == 9 and record.system_instruction == "Be kind." and record.test_frozen
    raw = populated.conn.execute("SELECT rules FROM datasets WHERE name = 'r'").fetchone()[0]
    assert json.loads(raw)["split"] == [70, 20, 10]


def test_eval_items_give_merged_alternating_contexts(populated: Store) -> None:
    record = build_dataset(populated, "d", DatasetRules())
    items = eval_items(populated, record.id)
    rows = ds_store.examples_of(populated, record.id, "test")
    assert len(items) == len(rows) > 0
    for item in items:
        roles = [r for r, _ in item.context]
        assert roles[0] == roles[-1] == "client"
        assert all(a != b for a, b in zip(roles, roles[1:]))
        assert item.reference == transcript_store.get_turn(populated, item.turn_id).text
        assert item.client_names == transcript_store.get_transcript(populated, item.transcript_id).client_names


# Properties of the context rules on arbitrary speaker sequences #############

_turns = st.lists(
    st.tuples(st.sampled_from(["client", "therapist", "other"]), st.integers(min_value=1, max_value=300)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(turns=_turns, k=st.integers(1, 12), budget=st.integers(1, 3000))
def test_context_rules_hold_for_any_speaker_sequence(turns, k, budget) -> None:
    raw = [(TurnId(i + 1), role, f"t{i} " + "x" * n, 1) for i, (role, n) in enumerate(turns)]
    rules = DatasetRules(context_turns=k, context_chars=budget)
    full = trim_context(merge_turns(raw), rules)
    # reading backwards gives the same messages as merging everything
    assert _last_messages(raw, 0, len(raw), k)[0] == merge_turns(raw)[-k:]
    last_speaker = next((r for _, r, _, _ in reversed(raw) if r != "other"), None)
    if last_speaker != "client":
        assert full is None
        return
    assert full is not None and full
    roles = [m.role for m in full]
    assert roles[0] == roles[-1] == "client"
    assert all(a != b for a, b in zip(roles, roles[1:]))
    assert len(full) <= k
    if len(full) > 1:
        assert sum(len(m.text) for m in full) <= budget
    ids = [t for m in full for t in m.turn_ids]
    assert ids == sorted(ids)
    # whole turns only, the newest ones, and no 'other' turn
    by_id = {t[0]: t for t in raw}
    assert all(by_id[t][1] != "other" for t in ids)
    assert all(any(by_id[t][2] in m.text for t in m.turn_ids) for m in full)
    later_speakers = [t for t in raw if t[0] > ids[-1] and t[1] != "other"]
    assert later_speakers == []


def test_window_turns_out_of_order_give_the_same_contexts(populated: Store) -> None:
    # The window query has no ORDER BY (sorting copied every text); contexts
    # must never be built from rows in another order: they are checked and sorted.
    from core.datasets.targets import WindowOrderError, build_contexts, context_windows, contexts_in_order
    import random

    rules = DatasetRules(context_turns=4)
    withheld = builder_module.load_withheld(populated)
    targets = [c for c in ds_store.candidate_targets(populated, rules.min_words) if c.prev_role == "client"]
    rows = ds_store.turns_in_ranges(populated, context_windows(targets, rules))
    in_order = sorted(rows, key=lambda r: (r[1], r[2]))
    expected_read: dict = {}
    expected = list(build_contexts(targets, iter(in_order), rules, withheld, expected_read))
    assert sum(1 for _, context, _ in expected if context) > 20
    shuffled = list(in_order)
    random.Random(3).shuffle(shuffled)
    with pytest.raises(WindowOrderError):
        list(build_contexts(targets, iter(shuffled), rules, withheld))
    # a transcript's turns split in two (the later half first, and an earlier one at the very end)
    tail = [in_order[0]]
    with pytest.raises(WindowOrderError):
        list(build_contexts(targets, iter(in_order[1:] + tail), rules, withheld))
    for order in (in_order, shuffled, in_order[1:] + tail):
        read: dict = {}
        assert contexts_in_order(targets, list(order), rules, withheld, read) == expected
        assert read == expected_read


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_the_ascii_fast_path_of_normalise_equals_the_general_rule(text: str) -> None:
    import re

    assert normalise(text) == " ".join(re.findall(r"\w+", text.casefold()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab c.É—é\u00a0'_", max_size=8), max_size=12))
def test_equality_keys_are_equal_exactly_when_the_normalised_texts_are(texts: list[str]) -> None:
    from core.datasets.leakage import equality_keys

    keys = equality_keys(dict(enumerate(texts)))
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            assert (keys[i] == keys[j]) == (normalise(a) == normalise(b)), (a, b)
