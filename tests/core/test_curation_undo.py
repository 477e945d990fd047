"""Undo and redo: per rater, one step at a time (bulk included), across a reopen, append-only."""

from __future__ import annotations

import random

import pytest

from core import curation
from core.curation import ExcludeReason, RaterState, Status
from core.store import open_store
from tests.core.test_curation_helpers import log_count, seed


def _states(store, turns, rater) -> dict[int, RaterState]:
    return {t: curation.turn_state(store, t, rater=rater).own for t in turns}


def test_nothing_to_undo_or_redo(store) -> None:
    seed(store)
    assert curation.undo_status(store, rater="ann") == curation.UndoStatus(None, None)
    assert curation.undo(store, rater="ann").value is None
    assert curation.redo(store, rater="ann").value is None
    assert not curation.undo(store, rater="ann").changes.any()
    assert log_count(store) == 0


def test_undo_restores_the_previous_state_and_redo_reapplies(store) -> None:
    t = seed(store).long_therapist[0]
    curation.include(store, [t], rater="ann")
    curation.rate(store, [t], rater="ann", rating=4)
    assert curation.undo_status(store, rater="ann") == curation.UndoStatus("Rate turn 4", None)

    result = curation.undo(store, rater="ann")
    assert (result.value, result.changes.decisions) == ("Rate turn 4", True)
    assert curation.turn_state(store, t, rater="ann").own == RaterState(status=Status.INCLUDED)
    assert curation.undo_status(store, rater="ann") == curation.UndoStatus("Include turn", "Rate turn 4")

    assert curation.undo(store, rater="ann").value == "Include turn"
    assert curation.turn_state(store, t, rater="ann").own == RaterState()
    assert curation.undo(store, rater="ann").value is None

    assert curation.redo(store, rater="ann").value == "Include turn"
    assert curation.redo(store, rater="ann").value == "Rate turn 4"
    assert curation.turn_state(store, t, rater="ann").own == RaterState(status=Status.INCLUDED, rating=4)
    assert curation.redo(store, rater="ann").value is None
    assert [r.action for r in curation.history(store, t)] == ["include", "rate", "undo", "undo", "redo", "redo"]


def test_a_new_step_ends_the_redo_chain(store) -> None:
    t = seed(store).long_therapist[0]
    curation.include(store, [t], rater="ann")
    curation.undo(store, rater="ann")
    curation.rate(store, [t], rater="ann", rating=2)
    assert curation.undo_status(store, rater="ann") == curation.UndoStatus("Rate turn 2", None)
    assert curation.redo(store, rater="ann").value is None
    assert curation.turn_state(store, t, rater="ann").own == RaterState(rating=2)


def test_bulk_exclude_is_undone_in_one_step(store) -> None:
    s = seed(store)
    ids = s.long_therapist
    curation.include(store, ids[:1], rater="ann")
    curation.exclude(store, ids, rater="ann", reason=ExcludeReason.TECHNIQUE, note="leading questions")
    assert all(v.status is Status.EXCLUDED for v in _states(store, ids, "ann").values())
    assert curation.undo(store, rater="ann").value == "Exclude 4 turns (technique not to imitate)"
    assert _states(store, ids, "ann") == {
        ids[0]: RaterState(status=Status.INCLUDED), ids[1]: RaterState(), ids[2]: RaterState(), ids[3]: RaterState()}
    assert curation.undo_status(store, rater="ann").undo_label == "Include turn"


def test_undo_is_per_rater(store) -> None:
    t = seed(store).long_therapist[0]
    curation.include(store, [t], rater="ann")
    curation.exclude(store, [t], rater="bob", reason=ExcludeReason.CRISIS)
    assert curation.undo(store, rater="ann").value == "Include turn"
    state = curation.turn_state(store, t, rater="bob")
    assert (state.status, state.effective_status) == (Status.EXCLUDED, Status.EXCLUDED)
    assert curation.undo_status(store, rater="bob").undo_label == "Exclude turn (crisis or risk content)"
    assert curation.turn_state(store, t, rater="ann").status is Status.UNREVIEWED


def test_undo_and_redo_survive_a_reopen(workspace) -> None:
    store = open_store(workspace)
    s = seed(store)
    ids = s.long_therapist
    curation.exclude(store, ids[:3], rater="ann", reason=ExcludeReason.OTHER)
    curation.rate(store, [ids[3]], rater="ann", rating=5)
    curation.undo(store, rater="ann")
    store.close()

    store = open_store(workspace)
    try:
        assert curation.undo_status(store, rater="ann") == curation.UndoStatus(
            "Exclude 3 turns (other)", "Rate turn 5")
        assert curation.redo(store, rater="ann").value == "Rate turn 5"
        assert curation.undo(store, rater="ann").value == "Rate turn 5"
        assert curation.undo(store, rater="ann").value == "Exclude 3 turns (other)"
        assert all(v == RaterState() for v in _states(store, ids, "ann").values())
    finally:
        store.close()


def test_undo_never_rewrites_the_log(store) -> None:
    ids = seed(store).long_therapist
    curation.include(store, ids, rater="ann")
    curation.rate(store, ids[:2], rater="ann", rating=3)
    before = store.conn.execute("SELECT * FROM decisions ORDER BY id").fetchall()
    batches_before = store.conn.execute("SELECT * FROM decision_batches ORDER BY batch").fetchall()
    curation.undo(store, rater="ann")
    curation.undo(store, rater="ann")
    curation.redo(store, rater="ann")
    after = store.conn.execute("SELECT * FROM decisions ORDER BY id").fetchall()
    assert after[: len(before)] == before
    assert len(after) == len(before) + 4 + 2 + 4
    batches_after = store.conn.execute("SELECT * FROM decision_batches ORDER BY batch").fetchall()
    assert batches_after[: len(batches_before)] == batches_before
    kinds = [r[0] for r in store.conn.execute("SELECT kind FROM decision_batches ORDER BY batch")]
    assert kinds == ["do", "do", "undo", "undo", "redo"]


def _apply(store, rng: random.Random, turns: list[int], rater: str) -> str:
    kind = rng.choice(["include", "exclude", "rate", "flag", "note", "clear"])
    chosen = rng.sample(turns, rng.randint(1, 3))
    if kind == "include":
        curation.include(store, chosen, rater=rater)
    elif kind == "exclude":
        note = rng.choice([None, "why", "because"])
        curation.exclude(store, chosen, rater=rater, reason=rng.choice(list(ExcludeReason)), note=note)
    elif kind == "rate":
        curation.rate(store, chosen, rater=rater, rating=rng.randint(1, 5))
    elif kind == "flag":
        curation.set_flag(store, chosen, rater=rater, flagged=rng.random() < 0.6)
    elif kind == "note":
        curation.set_note(store, chosen[0], rater=rater, note=rng.choice(["", "a", "b"]))
    else:
        curation.clear(store, chosen, rater=rater)
    return kind


@pytest.mark.parametrize("seed_value", range(6))
def test_random_sessions_match_a_snapshot_model(workspace, seed_value: int) -> None:
    """Against an editor's undo model: stacks of whole snapshots per rater."""
    rng = random.Random(seed_value)
    store = open_store(workspace)
    turns = seed(store).long_therapist
    raters = ["ann", "bob"]
    undo_stack: dict[str, list[dict]] = {r: [] for r in raters}
    redo_stack: dict[str, list[dict]] = {r: [] for r in raters}
    try:
        for step in range(160):
            rater = rng.choice(raters)
            current = _states(store, turns, rater)
            roll = rng.random()
            if roll < 0.2:
                label = curation.undo(store, rater=rater).value
                assert (label is None) == (not undo_stack[rater])
                if undo_stack[rater]:
                    redo_stack[rater].append(current)
                    current = undo_stack[rater].pop()
            elif roll < 0.3:
                label = curation.redo(store, rater=rater).value
                assert (label is None) == (not redo_stack[rater])
                if redo_stack[rater]:
                    undo_stack[rater].append(current)
                    current = redo_stack[rater].pop()
            else:
                _apply(store, rng, turns, rater)
                after = _states(store, turns, rater)
                if after != current:
                    undo_stack[rater].append(current)
                    redo_stack[rater].clear()
                current = after
            assert _states(store, turns, rater) == current, f"step {step}"
            if step % 40 == 39:
                store.close()
                store = open_store(workspace)
        for rater in raters:
            while undo_stack[rater]:
                assert curation.undo(store, rater=rater).value is not None
                assert _states(store, turns, rater) == undo_stack[rater].pop()
            assert curation.undo(store, rater=rater).value is None
            assert all(v == RaterState() for v in _states(store, turns, rater).values())
        assert store.conn.execute("SELECT count(*) FROM rater_turn_state").fetchone()[0] == 0
    finally:
        store.close()
