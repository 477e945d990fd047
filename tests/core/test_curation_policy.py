"""The multi-rater policy (docs/decision-policy.md), as the dataset builder reads it."""

from __future__ import annotations

import random

import pytest

from core import curation
from core.curation import ExcludeReason, Status
from tests.core.test_curation_helpers import seed


def _view(store) -> dict[int, tuple[str, float | None, int]]:
    """The turn_effective view exactly as another area's SQL sees it."""
    return {
        r[0]: (r[1], r[2], r[3])
        for r in store.conn.execute("SELECT turn_id, status, rating, flagged FROM turn_effective")
    }


def test_any_exclusion_wins(store) -> None:
    t = seed(store).long_therapist[0]
    curation.include(store, [t], rater="ann")
    curation.include(store, [t], rater="bob")
    curation.exclude(store, [t], rater="cy", reason=ExcludeReason.IDENTIFYING)
    assert _view(store)[t][0] == "excluded"
    s = curation.turn_state(store, t, rater="ann")
    assert (s.status, s.effective_status, s.rater_count) == (Status.INCLUDED, Status.EXCLUDED, 3)
    # Only the excluding rater can lift it.
    curation.clear(store, [t], rater="cy")
    assert _view(store)[t][0] == "included"


def test_included_if_anyone_included_and_nobody_excluded(store) -> None:
    t = seed(store).long_therapist[0]
    curation.rate(store, [t], rater="ann", rating=2)
    assert _view(store)[t][0] == "unreviewed"
    curation.include(store, [t], rater="bob")
    assert _view(store)[t][0] == "included"


def test_rating_is_the_mean_of_those_who_rated_and_flag_is_anyones(store) -> None:
    t = seed(store).long_therapist[0]
    curation.rate(store, [t], rater="ann", rating=2)
    curation.rate(store, [t], rater="bob", rating=5)
    curation.include(store, [t], rater="cy")  # no rating: does not pull the mean down
    curation.set_flag(store, [t], rater="bob", flagged=True)
    status, rating, flagged = _view(store)[t]
    assert (status, rating, flagged) == ("included", pytest.approx(3.5), 1)
    s = curation.turn_state(store, t, rater="cy")
    assert (s.effective_rating, s.effective_flagged, s.rating, s.flagged) == (pytest.approx(3.5), True, None, False)


def test_an_untouched_turn_has_no_row(store) -> None:
    s = seed(store)
    assert _view(store) == {}
    assert curation.turn_state(store, s.long_therapist[0], rater="ann").effective_status is Status.UNREVIEWED


def _policy(states: list[dict]) -> tuple[str, float | None, int]:
    """The documented policy, written independently of the code under test."""
    statuses = [s["status"] for s in states]
    if "excluded" in statuses:
        status = "excluded"
    elif "included" in statuses:
        status = "included"
    else:
        status = "unreviewed"
    ratings = [s["rating"] for s in states if s["rating"] is not None]
    return status, (sum(ratings) / len(ratings) if ratings else None), int(any(s["flagged"] for s in states))


@pytest.mark.parametrize("seed_value", range(4))
def test_random_panels_follow_the_policy_in_the_view_and_in_turn_state(store, seed_value: int) -> None:
    rng = random.Random(seed_value)
    turns = seed(store).long_therapist
    raters = ["ann", "bob", "cy"]
    truth: dict[tuple[int, str], dict] = {}
    for _ in range(60):
        t, r = rng.choice(turns), rng.choice(raters)
        st = truth.setdefault((t, r), {"status": "unreviewed", "rating": None, "flagged": False})
        action = rng.choice(["include", "exclude", "rate", "flag", "clear"])
        if action == "include":
            curation.include(store, [t], rater=r)
            st["status"] = "included"
        elif action == "exclude":
            curation.exclude(store, [t], rater=r, reason=ExcludeReason.OTHER)
            st["status"] = "excluded"
        elif action == "rate":
            st["rating"] = rng.randint(1, 5)
            curation.rate(store, [t], rater=r, rating=st["rating"])
        elif action == "flag":
            st["flagged"] = not st["flagged"]
            curation.set_flag(store, [t], rater=r, flagged=st["flagged"])
        else:
            curation.clear(store, [t], rater=r)
            st.update(status="unreviewed", rating=None)
    view = _view(store)
    for t in turns:
        states = [v for (tt, _), v in truth.items() if tt == t]
        expected = _policy(states)
        got = view.get(t, ("unreviewed", None, 0))
        assert (got[0], got[1], got[2]) == (expected[0], pytest.approx(expected[1]), expected[2])
        s = curation.turn_state(store, t, rater="ann")
        assert (s.effective_status.value, s.effective_rating, int(s.effective_flagged)) == (
            expected[0], pytest.approx(expected[1]), expected[2])
