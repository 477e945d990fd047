"""The curation API: each mutation, its log row, validation, and the list queries."""

from __future__ import annotations

import getpass
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import curation
from core.changes import OpChanges
from core.curation import ExcludeReason, Status
from core.errors import NotFoundError, UsageError, ValidationError
from core.models import Category, Role
from core.store import open_store
from core.store import transcripts as transcript_store
from core.workspace import DB_FILENAME
from tests.core.test_curation_helpers import Seeded, log_count, seed


@pytest.fixture
def seeded(store) -> Seeded:
    return seed(store)


def _other_connection_rows(workspace: Path) -> list[tuple]:
    """What a second process would see: only committed data."""
    conn = sqlite3.connect(workspace / DB_FILENAME)
    try:
        return conn.execute(
            "SELECT turn_id, rater, action, status, rating, reason, note, flagged FROM decisions ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def test_include_is_committed_logged_and_visible(store, seeded, workspace) -> None:
    turn = seeded.long_therapist[0]
    changes = curation.include(store, [turn], rater="ann")
    assert changes == OpChanges(decisions=True)
    assert not store.conn.in_transaction
    assert _other_connection_rows(workspace) == [(turn, "ann", "include", "included", None, None, None, 0)]
    state = curation.turn_state(store, turn, rater="ann")
    assert (state.status, state.effective_status, state.rater_count) == (Status.INCLUDED, Status.INCLUDED, 1)


def test_every_mutation_sets_its_field_and_keeps_the_others(store, seeded) -> None:
    t = seeded.long_therapist[0]
    curation.rate(store, [t], rater="ann", rating=4)
    curation.set_note(store, t, rater="ann", note="  warm reflection  ")
    curation.set_flag(store, [t], rater="ann", flagged=True)
    curation.exclude(store, [t], rater="ann", reason=ExcludeReason.CLINICAL)
    s = curation.turn_state(store, t, rater="ann")
    assert (s.status, s.rating, s.reason, s.note, s.flagged) == (
        Status.EXCLUDED, 4, ExcludeReason.CLINICAL, "warm reflection", True)

    curation.include(store, [t], rater="ann")
    s = curation.turn_state(store, t, rater="ann")
    assert (s.status, s.rating, s.reason, s.note, s.flagged) == (Status.INCLUDED, 4, None, "warm reflection", True)

    curation.exclude(store, [t], rater="ann", reason="transcription error", note="garbled")
    s = curation.turn_state(store, t, rater="ann")
    assert (s.reason, s.note) == (ExcludeReason.TRANSCRIPTION, "garbled")

    curation.clear(store, [t], rater="ann")
    s = curation.turn_state(store, t, rater="ann")
    # Clear drops the decision; the note and the flag are annotations and stay.
    assert (s.status, s.rating, s.reason, s.note, s.flagged) == (Status.UNREVIEWED, None, None, "garbled", True)

    curation.set_note(store, t, rater="ann", note="   ")
    curation.set_flag(store, [t], rater="ann", flagged=False)
    assert curation.turn_state(store, t, rater="ann").own == curation.RaterState()
    # Back to blank: the derived row is gone, so the dataset builder sees "unreviewed".
    assert store.conn.execute("SELECT count(*) FROM turn_effective WHERE turn_id = ?", [t]).fetchone()[0] == 0

    actions = [r.action for r in curation.history(store, t)]
    assert actions == ["rate", "note", "flag", "exclude", "include", "exclude", "clear", "note", "unflag"]


def test_a_change_that_changes_nothing_is_not_logged(store, seeded) -> None:
    t = seeded.long_therapist[0]
    curation.include(store, [t], rater="ann")
    before = log_count(store)
    assert curation.include(store, [t], rater="ann") == OpChanges()
    assert curation.include(store, [], rater="ann") == OpChanges()
    assert log_count(store) == before
    assert curation.undo_status(store, rater="ann").undo_label == "Include turn"


def test_bulk_step_is_one_batch_and_duplicates_count_once(store, seeded) -> None:
    ids = seeded.long_therapist
    curation.exclude(store, ids + ids[:1], rater="ann", reason=ExcludeReason.CRISIS)
    rows = list(curation.decision_log(store))
    assert [r.turn_id for r in rows] == ids
    assert len({r.batch for r in rows}) == 1
    assert curation.undo_status(store, rater="ann").undo_label == "Exclude 4 turns (crisis or risk content)"


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda s, t: curation.rate(s, [t], rater="ann", rating=6), ValidationError, "rating"),
        (lambda s, t: curation.rate(s, [t], rater="ann", rating=0), ValidationError, "rating"),
        (lambda s, t: curation.rate(s, [t], rater="ann", rating=True), ValidationError, "rating"),
        (lambda s, t: curation.exclude(s, [t], rater="ann", reason="boring"), ValidationError, "reason"),
        (lambda s, t: curation.include(s, [t], rater="  "), ValidationError, "rater"),
        (lambda s, t: curation.include(s, [t], rater="a\x07b"), ValidationError, "rater"),
        (lambda s, t: curation.include(s, [t], rater="x" * 81), ValidationError, "rater"),
        (lambda s, t: curation.include(s, [t, 999_999], rater="ann"), NotFoundError, "turn 999999"),
        (lambda s, t: curation.set_note(s, t, rater="ann", note="x" * 10_001), ValidationError, "note"),
        (lambda s, t: curation.set_note(s, t, rater="ann", note="bad \ud800"), ValidationError, "note"),
        (lambda s, t: curation.exclude(s, [t], rater="ann", reason="other", note=3), ValidationError, "note"),
    ],
)
def test_bad_input_is_refused_with_one_clear_line_and_nothing_written(
    store, seeded, call, error, fragment
) -> None:
    with pytest.raises(error) as info:
        call(store, seeded.long_therapist[0])
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert log_count(store) == 0
    assert store.conn.execute("SELECT count(*) FROM rater_turn_state").fetchone()[0] == 0
    assert not store.conn.in_transaction


def test_client_turns_are_not_decided_on(store, seeded) -> None:
    client_turn = seeded.turns[0][0]
    with pytest.raises(UsageError, match=f"turn {client_turn} is a client turn"):
        curation.include(store, [seeded.long_therapist[0], client_turn], rater="ann")
    assert log_count(store) == 0


def test_rater_names_are_normalised(store, seeded) -> None:
    curation.include(store, [seeded.long_therapist[0]], rater="  Dr   Lee ")
    assert [r.rater for r in curation.decision_log(store)] == ["Dr Lee"]
    assert curation.turn_state(store, seeded.long_therapist[0], rater="Dr Lee").status is Status.INCLUDED


def test_set_category_is_bulk_logged_and_one_undo_step(store, seeded) -> None:
    a, b, c = seeded.transcripts
    assert curation.set_category(store, [a, b, c], Category.ANGER, rater="ann") == OpChanges(transcripts=True)
    assert {transcript_store.get_transcript(store, t).category for t in (a, b, c)} == {Category.ANGER}
    rows = list(curation.decision_log(store))
    assert [(r.turn_id, r.transcript_id, r.action, r.category, r.prev_category) for r in rows] == [
        (None, a, "category", "Anger", "Anxiety"),
        (None, b, "category", "Anger", "Other"),
        (None, c, "category", "Anger", "Depression"),
    ]
    undone = curation.undo(store, rater="ann")
    assert undone.value == "Set category of 3 transcripts to Anger"
    assert undone.changes.transcripts
    assert [transcript_store.get_transcript(store, t).category for t in (a, b, c)] == [
        Category.ANXIETY, Category.OTHER, Category.DEPRESSION]
    curation.redo(store, rater="ann")
    assert {transcript_store.get_transcript(store, t).category for t in (a, b, c)} == {Category.ANGER}
    with pytest.raises(NotFoundError, match="transcript 12345"):
        curation.set_category(store, [a, 12345], Category.OTHER, rater="ann")
    assert transcript_store.get_transcript(store, a).category is Category.ANGER


def test_history_and_log_say_who_what_when(store, seeded) -> None:
    t = seeded.long_therapist[1]
    start = datetime.now(UTC)
    curation.include(store, [t], rater="ann")
    curation.exclude(store, [t], rater="bob", reason=ExcludeReason.IDENTIFYING, note="names the school")
    curation.rate(store, [seeded.long_therapist[2]], rater="ann", rating=2)
    hist = curation.history(store, t)
    assert [(r.rater, r.action, r.reason, r.note) for r in hist] == [
        ("ann", "include", None, None),
        ("bob", "exclude", ExcludeReason.IDENTIFYING, "names the school"),
    ]
    log_rows = list(curation.decision_log(store))
    assert [(r.turn_id, r.transcript_id) for r in log_rows] == [
        (t, seeded.transcripts[0]), (t, seeded.transcripts[0]),
        (seeded.long_therapist[2], seeded.transcripts[1])]
    for r in log_rows:
        when = datetime.fromisoformat(r.at)
        assert when.utcoffset().total_seconds() == 0
        assert start.replace(microsecond=0) <= when <= datetime.now(UTC)
    with pytest.raises(NotFoundError):
        curation.history(store, 424242)


def test_turn_state_counts_words_and_question_marks(store, seeded) -> None:
    t = seeded.turns[0][1]
    s = curation.turn_state(store, t, rater="ann")
    text = transcript_store.get_turn(store, t).text
    assert (s.word_count, s.question_marks) == (len(text.split()), text.count("?"))
    assert s.question_marks == 2
    assert (s.transcript_id, s.position, s.role) == (seeded.transcripts[0], 1, "therapist")
    with pytest.raises(NotFoundError):
        curation.turn_state(store, 424242, rater="ann")


def test_turn_states_agree_with_turn_state(store, seeded) -> None:
    ids = [t for turns in seeded.turns for t in turns]
    long = seeded.long_therapist
    curation.include(store, long[:2], rater="ann")
    curation.exclude(store, long[1:3], rater="bob", reason=ExcludeReason.OTHER)
    curation.rate(store, long, rater="bob", rating=3)
    curation.set_flag(store, [long[3]], rater="cy", flagged=True)
    many = curation.turn_states(store, ids + [999_999], rater="ann")
    assert sorted(many) == sorted(ids)
    for tid in ids:
        assert many[tid] == curation.turn_state(store, tid, rater="ann")


def _expected_summaries(store, min_words: int, decided_turns: set[int]) -> dict[int, tuple[int, int]]:
    out = {}
    for t in transcript_store.list_transcripts(store):
        turns = transcript_store.turns_of(store, t.id)
        eligible = [x.id for x in turns if x.role is Role.THERAPIST and x.word_count >= min_words]
        out[t.id] = (len(eligible), len([x for x in eligible if x in decided_turns]))
    return out


def test_transcript_summaries_count_eligible_and_decided(store, seeded) -> None:
    long = seeded.long_therapist
    short = seeded.turns[0][3]
    curation.include(store, [long[0], short], rater="ann")
    curation.exclude(store, [long[2]], rater="bob", reason=ExcludeReason.OTHER)
    curation.rate(store, [long[3]], rater="bob", rating=5)  # a rating alone is not a decision
    curation.set_flag(store, [long[1]], rater="bob", flagged=True)

    for min_words in (0, 8, 50, 60, 1000):
        got = {s.id: (s.eligible, s.decided)
               for s in curation.transcript_summaries(store, min_words=min_words, rater=None)}
        assert got == _expected_summaries(store, min_words, {long[0], short, long[2]})
        got = {s.id: (s.eligible, s.decided)
               for s in curation.transcript_summaries(store, min_words=min_words, rater="ann")}
        assert got == _expected_summaries(store, min_words, {long[0], short})

    summaries = {s.id: s for s in curation.transcript_summaries(store, min_words=50, rater=None)}
    a, b, c = seeded.transcripts
    assert (summaries[a].title, summaries[a].category, summaries[a].turns) == ("Session A", Category.ANXIETY, 5)
    assert (summaries[a].flagged, summaries[b].flagged) == (1, 0)
    assert [s.id for s in curation.transcript_summaries(
        store, min_words=50, rater=None, category=Category.OTHER)] == [b]
    assert [s.id for s in curation.transcript_summaries(
        store, min_words=50, rater=None, status_filter="in_progress")] == [a, b]
    curation.include(store, [long[3]], rater="ann")
    curation.include(store, [long[1]], rater="ann")
    by_state = {f: [s.id for s in curation.transcript_summaries(store, min_words=50, rater=None, status_filter=f)]
                for f in curation.STATUS_FILTERS}
    assert by_state == {"unstarted": [], "in_progress": [], "done": [a, b, c], "todo": [], "flagged": [a]}
    assert [s.id for s in curation.transcript_summaries(
        store, min_words=50, rater="bob", status_filter="unstarted")] == [a]
    assert [s.id for s in curation.transcript_summaries(
        store, min_words=50, rater="nobody", status_filter="unstarted")] == [a, b]
    with pytest.raises(UsageError, match="status filter"):
        curation.transcript_summaries(store, min_words=50, rater=None, status_filter="finished")


def test_eligible_turn_ids_follow_transcript_and_position_order(store, seeded) -> None:
    for min_words in (0, 8, 50, 57):
        expected = []
        for t in transcript_store.list_transcripts(store):
            expected += [(x.id, t.id) for x in transcript_store.turns_of(store, t.id)
                         if x.role is Role.THERAPIST and x.word_count >= min_words]
        assert curation.eligible_turn_ids(store, min_words=min_words) == expected
    assert [tid for tid, _ in curation.eligible_turn_ids(store, min_words=50)] == seeded.long_therapist
    with pytest.raises(ValidationError, match="minimum words"):
        curation.eligible_turn_ids(store, min_words=-1)


def test_current_rater_persists_and_raters_lists_everyone(workspace, seeded, store) -> None:
    assert curation.get_current_rater(store) is None
    assert curation.default_rater(store) == getpass.getuser()
    assert curation.set_current_rater(store, " Dr Lee ") == OpChanges(settings=True)
    curation.include(store, [seeded.long_therapist[0]], rater="bob")
    store.close()
    with open_store(workspace) as reopened:
        assert curation.get_current_rater(reopened) == "Dr Lee"
        assert curation.default_rater(reopened) == "Dr Lee"
        assert curation.raters(reopened) == ["bob", "Dr Lee"]
        with pytest.raises(ValidationError):
            curation.set_current_rater(reopened, "")
        assert curation.get_current_rater(reopened) == "Dr Lee"
