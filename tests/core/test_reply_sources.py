"""The reply-source registry: a kind registered by a test is listed by `attune systems` and
evaluated, with no other change (issue 13: the registry generators plug into)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from core.errors import UsageError, ValidationError
from core.evaluation import evaluate, sources
from core.evaluation.responses import NewReply, save_replies
from core.evaluation.sample import SAMPLE_DATASET, build_sample
from core.evaluation.systems import delete_system, list_systems


@pytest.fixture
def sample(store, tmp_path: Path):
    build_sample(store, tmp_path / "replies")
    return store


@pytest.fixture
def parrot():
    """A built-in fake: repeats the client's last words back (and stores nothing)."""
    entry = sources.register_builtin("parrot", "repeats the client's last words", lambda item: item.context[-1][1])
    yield entry
    sources.unregister("parrot")


@pytest.fixture
def fake_kind():
    """A stored fake kind, as a generator module registers its own."""
    entry = sources.register_kind("fake_model", "replies of a fake model (tests)")
    yield entry
    sources.unregister("fake_model")


def _systems_json(store, capsys) -> dict[str, dict]:
    home = str(store.path.parent)
    assert main(["--home", home, "systems", "--json"]) == 0
    return {row["name"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}


def test_a_registered_builtin_source_is_listed_and_evaluated(sample, parrot, capsys) -> None:
    listed = _systems_json(sample, capsys)
    assert listed["parrot"]["kind"] == "parrot" and listed["parrot"]["builtin"] is True
    assert listed["parrot"]["replies"] == listed["therapist"]["replies"] == 4
    result = evaluate(sample, SAMPLE_DATASET, ["therapist", "parrot"], resamples=20, min_items=1)
    scores = {eid: row["parrot"] for eid, row in result.scores.items()}
    # The sample's first item: the client said "I keep worrying at night." (5 words; the reference has 7).
    assert scores["ex-90000001"].text == "I keep worrying at night."
    assert scores["ex-90000001"].length_diff == 2
    assert result.overall.systems["parrot"].n == 4 and result.overall.systems["parrot"].missing == 0
    # a built-in name is not free for a stored system, nor deletable
    with pytest.raises(UsageError, match="built-in"):
        save_replies(sample, "parrot", [NewReply("ex-90000001", "hi")], kind="imported", provenance={})
    with pytest.raises(UsageError, match="built in"):
        delete_system(sample, "parrot")


def test_unregistered_builtin_is_gone(sample, capsys) -> None:
    assert "parrot" not in _systems_json(sample, capsys)


def test_a_registered_stored_kind_saves_lists_and_evaluates(sample, fake_kind, capsys) -> None:
    replies = [NewReply("ex-90000001", "Tell me about the nights."), NewReply("ex-90000002", "Where do you feel it?"),
               NewReply("ex-90000003", "", blocked=True, detail="filtered"), NewReply("ex-90000004", "Rest.")]
    saved = save_replies(sample, "fakebot", replies, kind="fake_model", provenance={"model": "fake-1"})
    assert saved.value.created_system
    listed = _systems_json(sample, capsys)
    assert listed["fakebot"]["kind"] == "fake_model"
    assert listed["fakebot"]["by_state"] == {"ok": 3, "blocked": 1}
    result = evaluate(sample, SAMPLE_DATASET, ["fakebot", "base"], resamples=20, min_items=1)
    fake = result.overall.systems["fakebot"]
    assert (fake.n, fake.missing) == (3, 1)
    assert result.scores["ex-90000004"]["fakebot"].length_diff == 7  # "Rest." 1 word vs 8


def test_unregistered_kinds_are_refused_when_saving(sample) -> None:
    with pytest.raises(ValidationError, match="'no_such_kind' is not one of imported, base_model, tuned_model"):
        save_replies(sample, "x", [NewReply("ex-90000001", "hi")], kind="no_such_kind", provenance={})
    with pytest.raises(ValidationError, match="not one of"):
        save_replies(sample, "x", [NewReply("ex-90000001", "hi")], kind="therapist", provenance={})


def test_the_therapist_is_listed_first_and_a_kind_cannot_change_shape() -> None:
    assert sources.kinds()[0].kind == "therapist" and sources.kinds()[0].builtin
    with pytest.raises(ValueError, match="already registered"):
        sources.register_kind("therapist", "not built in")


def test_systems_listing_matches_the_registry(sample) -> None:
    names = [s.name for s in list_systems(sample)]
    assert names == ["therapist", "base", "tuned"]
