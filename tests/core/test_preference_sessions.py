"""A/B session setup, balance, leaks, withheld text, votes, undo and lock."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from core import curation
from core.errors import NotFoundError, UsageError
from core.evaluation.responses import NewReply, save_replies
from core.preference import analysis, sessions
from core.preference.sessions import DuplicateVote, LeaksFound, SessionSpec
from core.store import preference as pref_store
from core.store.decisions import ExcludeReason
from tests.core.preference_fixtures import DATASET, build_ab_workspace, example_id

SYSTEMS = ("base", "tuned", "therapist")


@pytest.fixture
def ab(store, tmp_path: Path):
    build_ab_workspace(store, tmp_path / "replies")
    return store


def _new(store, **kw) -> int:
    spec = SessionSpec(DATASET, kw.pop("systems", SYSTEMS), kw.pop("raters", ("ann", "bob")), seed=kw.pop("seed", 7), **kw)
    return sessions.create_session(store, spec).value.session_id


# Balance ######################################################################


def _left_counts(assignments) -> tuple[Counter, Counter]:
    left, right = Counter(), Counter()
    for a in assignments:
        left[a.left_system] += 1
        right[a.right_system] += 1
    return left, right


@pytest.mark.parametrize("pairing", ["all", "balanced"])
def test_sides_are_balanced_per_rater_for_many_seeds_and_sizes(pairing: str) -> None:
    checked = 0
    for k, n_items, seed in itertools.product(range(2, 6), (1, 2, 5, 7, 12), range(6)):
        systems = [f"s{i}" for i in range(k)]
        units = sessions.plan_units([f"e{i}" for i in range(n_items)], systems, pairing, seed)
        for rater in ("ann", "bob"):
            queue = sessions._rater_assignments(rater, units, seed, 0.0)  # noqa: SLF001 - the balancing itself
            left, right = _left_counts(queue)
            appearances = {s: left[s] + right[s] for s in systems}
            for s in systems:
                assert abs(left[s] - right[s]) <= 1, (k, n_items, seed, s, left, right)
            if len(set(appearances.values())) == 1:
                lefts = [left[s] for s in systems]
                assert max(lefts) - min(lefts) <= 1, (k, n_items, seed, lefts)
            # Per pair of systems too: each side of a pair within one of the other.
            per_pair = Counter((a.left_system, a.right_system) for a in queue)
            for x, y in itertools.combinations(systems, 2):
                assert abs(per_pair[(x, y)] - per_pair[(y, x)]) <= 1
            checked += 1
    assert checked == 4 * 5 * 6 * 2


def test_balanced_pairing_uses_every_pair_equally() -> None:
    systems = ["a", "b", "c", "d"]
    units = sessions.plan_units([f"e{i}" for i in range(24)], systems, "balanced", 3)
    counts = Counter(frozenset((x, y)) for _e, x, y in units)
    assert len(counts) == 6 and set(counts.values()) == {4}
    assert len({e for e, _x, _y in units}) == 24  # one pair per item


def test_setup_is_seeded_and_recorded(ab) -> None:
    first = _new(ab, seed=11, items=5)
    second = _new(ab, seed=11, items=5)
    a1 = pref_store.assignments(ab, first)
    a2 = pref_store.assignments(ab, second)
    strip = [(a.rater, a.position, a.example_id, a.left_system, a.right_system) for a in a1]
    assert strip == [(a.rater, a.position, a.example_id, a.left_system, a.right_system) for a in a2]
    assert {a.item_key for a in a1}.isdisjoint({a.item_key for a in a2})  # keys are never reused
    assert sessions.get_session(ab, first).seed == 11
    assert len({a.example_id for a in a1}) == 5


def test_left_right_balanced_in_a_real_session(ab) -> None:
    sid = _new(ab, raters=("ann", "bob", "cy"))
    for rater in ("ann", "bob", "cy"):
        left, right = _left_counts(pref_store.assignments(ab, sid, rater))
        assert max(left.values()) - min(left.values()) <= 1
        assert all(abs(left[s] - right[s]) <= 1 for s in SYSTEMS)
        assert sum(left.values()) == 12 * 3  # 12 items x 3 pairs


def test_order_differs_between_raters(ab) -> None:
    sid = _new(ab)
    order = {r: [(a.example_id, frozenset((a.left_system, a.right_system)))
                 for a in pref_store.assignments(ab, sid, r)] for r in ("ann", "bob")}
    assert Counter(order["ann"]) == Counter(order["bob"])  # the same pairs, in another order
    assert order["ann"] != order["bob"]


def test_category_and_sample(ab) -> None:
    sid = _new(ab, category="fatigue")
    items = pref_store.session_items(ab, sid)
    assert set(items) == {example_id(n) for n in range(2, 12, 3)}
    with pytest.raises(Exception, match="no test items in category"):
        _new(ab, category="Grief")


def test_repeats_come_later_with_sides_swapped(ab) -> None:
    sid = _new(ab, repeat_share=0.25)
    for rater in ("ann", "bob"):
        rows = pref_store.assignments(ab, sid, rater)
        by_id = {a.id: a for a in rows}
        repeats = [a for a in rows if a.repeat_of is not None]
        assert len(repeats) == round(0.25 * 36)
        for r in repeats:
            first = by_id[r.repeat_of]
            assert (r.example_id, r.left_system, r.right_system) == (first.example_id, first.right_system,
                                                                     first.left_system)
            assert r.position > first.position


def test_setup_refuses_bad_requests(ab) -> None:
    with pytest.raises(UsageError, match="two or more"):
        _new(ab, systems=("base",))
    with pytest.raises(NotFoundError, match="no system named 'nope'"):
        _new(ab, systems=("base", "nope"))
    with pytest.raises(UsageError, match="repeat-share"):
        _new(ab, repeat_share=1.5)
    assert pref_store.list_sessions(ab) == []


# Identity leaks ###############################################################


def test_leaks_are_listed_then_removed_or_flagged(ab, tmp_path: Path) -> None:
    leaky = {0: "As an AI language model, I cannot feel.", 3: "Error: rate limit exceeded (HTTP 429)",
             5: "ChatGPT thinks you should rest."}
    replies = [NewReply(example_id(n), leaky.get(n, f"A plain reply {n}.")) for n in range(12)]
    save_replies(ab, "leaky", replies, kind="base_model", provenance={"model": "acme-chat-7b"})
    with pytest.raises(LeaksFound) as info:
        _new(ab, systems=("leaky", "therapist"))
    found = {(f.example_id, f.what) for f in info.value.findings}
    assert {(example_id(0), "says it is an AI"), (example_id(3), "error message"),
            (example_id(5), "model or vendor name")} <= found
    assert pref_store.list_sessions(ab) == []

    removed = sessions.create_session(ab, SessionSpec(DATASET, ("leaky", "therapist"), ("ann",), seed=1,
                                                      leaks="remove")).value
    assert removed.leak_items_removed == 3 and removed.items == 9
    assert not {example_id(n) for n in leaky} & set(pref_store.session_items(ab, removed.session_id))

    kept = sessions.create_session(ab, SessionSpec(DATASET, ("leaky", "therapist"), ("ann",), seed=1,
                                                   leaks="keep")).value
    flags = pref_store.session_items(ab, kept.session_id)
    assert kept.items == 12 and {eid for eid, (_c, flag) in flags.items() if flag} == {example_id(n) for n in leaky}


def test_a_reply_quoting_its_model_id_is_a_leak(ab) -> None:
    replies = [NewReply(example_id(n), "I am acme-chat-7b, hello." if n == 4 else f"Fine {n}.") for n in range(12)]
    save_replies(ab, "acme", replies, kind="base_model", provenance={"model": "acme-chat-7b"})
    with pytest.raises(LeaksFound) as info:
        _new(ab, systems=("acme", "base"))
    assert [(f.example_id, f.what) for f in info.value.findings] == [(example_id(4), "model id")]


# Withheld text never reaches a rater ##########################################


def test_exclusion_after_setup_removes_the_item_from_the_queue(ab) -> None:
    sid = _new(ab)
    target = ab.conn.execute(
        "SELECT turn_id FROM dataset_examples WHERE example_id = ?", [example_id(1)]).fetchone()[0]
    client_text = ab.conn.execute(
        "SELECT t.text FROM turns t JOIN dataset_examples e ON t.id = e.turn_id - 1 WHERE e.example_id = ?",
        [example_id(1)]).fetchone()[0]
    before = sessions.rater_queue(ab, sid, "ann")
    curation.exclude(ab, [target], rater="me", reason=ExcludeReason.IDENTIFYING)
    after = sessions.rater_queue(ab, sid, "ann")
    assert after.total == before.total - 3 and after.withheld == 3
    text = repr(after)
    assert client_text not in text and "about week 1." not in text


def test_redaction_after_setup_reaches_the_therapist_side(ab) -> None:
    sid = _new(ab)
    turn = ab.conn.execute(
        "SELECT turn_id FROM dataset_examples WHERE example_id = ?", [example_id(2)]).fetchone()[0]
    ref = ab.conn.execute("SELECT text FROM turns WHERE id = ?", [turn]).fetchone()[0]
    start = ref.index("week")
    curation.redact(ab, turn, start, start + 6, rater="me")
    queue = sessions.rater_queue(ab, sid, "ann")
    texts = [t for i in queue.items for t in (i.response_a, i.response_b)]
    assert any("[redacted]" in t for t in texts)
    assert not any(ref[start:start + 6] in t for t in texts)


# Votes, undo, lock ############################################################


def test_vote_undo_resume_and_duplicates(ab) -> None:
    sid = _new(ab)
    queue = sessions.rater_queue(ab, sid, "ann")
    first, second = queue.items[0], queue.items[1]
    sessions.vote(ab, sid, "ann", first.key, "a", "clearer")
    sessions.vote(ab, sid, "ann", second.key, "T")
    with pytest.raises(DuplicateVote):
        sessions.vote(ab, sid, "ann", first.key, "b")
    with pytest.raises(UsageError, match="one of a, b, t, z, s"):
        sessions.vote(ab, sid, "ann", queue.items[2].key, "x")
    with pytest.raises(NotFoundError):
        sessions.vote(ab, sid, "bob", first.key, "a")  # ann's item, not bob's

    resumed = sessions.rater_queue(ab, sid, "ann")
    assert (resumed.done, resumed.next_index()) == (2, 2)
    assert resumed.items[0].vote == "a" and resumed.items[0].comment == "clearer"

    assert sessions.undo_last_vote(ab, sid, "ann") == second.key
    assert sessions.rater_queue(ab, sid, "ann").items[1].vote is None
    sessions.vote(ab, sid, "ann", second.key, "b")  # allowed again after undo
    assert sessions.rater_queue(ab, sid, "ann").items[1].vote == "b"
    assert sessions.undo_last_vote(ab, sid, "ann") == second.key
    assert sessions.undo_last_vote(ab, sid, "ann") == first.key
    assert sessions.undo_last_vote(ab, sid, "ann") is None
    # Undo appends: the log keeps every vote and every undo.
    actions = [r[0] for r in ab.conn.execute("SELECT action FROM ab_votes ORDER BY id")]
    assert actions == ["vote", "vote", "undo", "vote", "undo", "undo"]


def test_lock_unblinds_and_freezes(ab) -> None:
    sid = _new(ab, raters=("ann",))
    with pytest.raises(UsageError, match="lock it first"):
        analysis.report(ab, sid)
    rng = random.Random(0)
    queue = sessions.rater_queue(ab, sid, "ann")
    for item in queue.items:
        sessions.vote(ab, sid, "ann", item.key, rng.choice("abtzs"))
    sessions.lock(ab, sid)
    with pytest.raises(UsageError, match="locked"):
        sessions.vote(ab, sid, "ann", queue.items[0].key, "a")
    with pytest.raises(UsageError, match="locked"):
        sessions.undo_last_vote(ab, sid, "ann")
    rep = analysis.report(ab, sid)
    assert len(rep["votes"]) == queue.total
    # The report's rows, redone by hand, give its pair figures.
    for pair in rep["pairs"]:
        x, y = pair["systems"]
        wins = sum(1 for v in rep["votes"] if {v["left_system"], v["right_system"]} == {x, y}
                   and ((v["choice"] == "a" and v["left_system"] == x) or (v["choice"] == "b" and v["right_system"] == x)))
        assert pair["wins"] == wins
    assert rep["bradley_terry"] is not None and set(rep["bradley_terry"]["strengths"]) == set(SYSTEMS)


@pytest.mark.parametrize("text", [
    "I made an error with my sister and I regret it.",
    "That is an exception to the rule, isn't it?",
    "You said you have none left.",
    "Nan came by on Sunday.",
    "Hold it in the palm of your hand.",
])
def test_ordinary_therapy_sentences_are_not_leaks(text: str) -> None:
    assert sessions.scan_reply(text) == []


def test_the_therapist_text_is_never_copied_into_the_session(ab) -> None:
    sid = _new(ab)
    copied = {row[0] for row in ab.conn.execute("SELECT system FROM ab_replies WHERE session_id = ?", [sid])}
    assert copied == {"base", "tuned"}
    references = {row[0] for row in ab.conn.execute("SELECT text FROM turns WHERE role = 'therapist'")}
    texts = {row[0] for row in ab.conn.execute("SELECT text FROM ab_replies")}
    assert not references & texts
