"""The J/K order across transcripts, without a window."""

from __future__ import annotations

from core.ids import TranscriptId, TurnId
from desktop.curation.navigation import EligibleOrder

# Transcript 1: turns 10, 11; transcript 2: none eligible; 3: turn 30; 4: turns 40, 41.
PAIRS = [(TurnId(10), TranscriptId(1)), (TurnId(11), TranscriptId(1)), (TurnId(30), TranscriptId(3)),
         (TurnId(40), TranscriptId(4)), (TurnId(41), TranscriptId(4))]


def test_step_crosses_transcripts_both_ways() -> None:
    order = EligibleOrder(PAIRS)
    assert order.step(order.index_of(TurnId(11)), +1) == (30, 3)
    assert order.step(order.index_of(TurnId(30)), -1) == (11, 1)
    assert order.step(order.index_of(TurnId(41)), +1) is None
    assert order.step(order.index_of(TurnId(10)), -1) is None


def test_step_skips_transcripts_filtered_out() -> None:
    order = EligibleOrder(PAIRS)
    assert order.step(order.index_of(TurnId(11)), +1, allowed={1, 4}) == (40, 4)
    assert order.step(order.index_of(TurnId(40)), -1, allowed={1, 4}) == (11, 1)


def test_leaving_a_transcript_without_eligible_turns_follows_id_order() -> None:
    order = EligibleOrder(PAIRS)
    assert order.leave_transcript(TranscriptId(2), +1) == (30, 3)
    assert order.leave_transcript(TranscriptId(2), -1) == (11, 1)
    assert order.leave_transcript(TranscriptId(1), +1) == (30, 3)
    assert order.leave_transcript(TranscriptId(4), -1) == (30, 3)


def test_next_and_previous_transcript_land_on_their_first_eligible_turn() -> None:
    order = EligibleOrder(PAIRS)
    assert order.step_transcript(TranscriptId(3), +1) == (40, 4)
    assert order.step_transcript(TranscriptId(4), -1) == (30, 3)
    assert order.step_transcript(TranscriptId(3), -1) == (10, 1)
    assert order.turns_of({1, 4}) == [10, 11, 40, 41]
    assert order.first_of(TranscriptId(2)) is None
