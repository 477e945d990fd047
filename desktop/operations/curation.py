"""One small function per curation action (Anki's ``aqt/operations/card.py``).

Widgets call e.g. ``include_turns(parent=self, turn_ids=ids, rater=r)
.run_in_background(initiator=self)``; the core call runs on the database
thread and the returned ``OpChanges`` is broadcast to every screen. Reads
are ``QueryOp``s so the GUI thread never touches the store either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from core import curation
from core.curation import DecisionRecord, SearchHit, TranscriptSummary, TurnState, UndoStatus
from core.changes import OpChanges, OpChangesWith
from core.ids import TranscriptId, TurnId
from core.models import Category, Role, Transcript, Turn
from core.store import Store
from core import settings
from core import transcripts as transcript_store
from desktop.operations import CollectionOp, QueryOp

DEFAULT_MIN_WORDS = curation.DEFAULT_MIN_WORDS
# Next to core's "curation.rater"; the dataset builder may read the same key.
MIN_WORDS_KEY = "curation.min_words"


# Decisions ####################################################################


def include_turns(*, parent: QWidget | None, turn_ids: Sequence[TurnId], rater: str) -> CollectionOp[OpChanges]:
    ids = list(turn_ids)
    return CollectionOp(parent, lambda store: curation.include(store, ids, rater=rater))


def exclude_turns(
    *,
    parent: QWidget | None,
    turn_ids: Sequence[TurnId],
    rater: str,
    reason: curation.ExcludeReason,
    note: str | None = None,
) -> CollectionOp[OpChanges]:
    ids = list(turn_ids)
    return CollectionOp(
        parent, lambda store: curation.exclude(store, ids, rater=rater, reason=reason, note=note)
    )


def rate_turns(
    *, parent: QWidget | None, turn_ids: Sequence[TurnId], rater: str, rating: int
) -> CollectionOp[OpChanges]:
    ids = list(turn_ids)
    return CollectionOp(parent, lambda store: curation.rate(store, ids, rater=rater, rating=rating))


def flag_turns(
    *, parent: QWidget | None, turn_ids: Sequence[TurnId], rater: str, flagged: bool
) -> CollectionOp[OpChanges]:
    ids = list(turn_ids)
    return CollectionOp(
        parent, lambda store: curation.set_flag(store, ids, rater=rater, flagged=flagged)
    )


def set_note(*, parent: QWidget | None, turn_id: TurnId, rater: str, note: str) -> CollectionOp[OpChanges]:
    return CollectionOp(parent, lambda store: curation.set_note(store, turn_id, rater=rater, note=note))


def clear_turns(*, parent: QWidget | None, turn_ids: Sequence[TurnId], rater: str) -> CollectionOp[OpChanges]:
    ids = list(turn_ids)
    return CollectionOp(parent, lambda store: curation.clear(store, ids, rater=rater))


def redact_span(
    *,
    parent: QWidget | None,
    turn_id: TurnId,
    start: int,
    end: int,
    rater: str,
    reason: curation.ExcludeReason = curation.ExcludeReason.IDENTIFYING,
) -> CollectionOp[OpChanges]:
    """Hide ``text[start:end]`` of a turn (Python offsets) from every export and prompt."""
    return CollectionOp(
        parent, lambda store: curation.redact(store, turn_id, start, end, rater=rater, reason=reason)
    )


def unredact_span(
    *, parent: QWidget | None, turn_id: TurnId, start: int, end: int, rater: str
) -> CollectionOp[OpChanges]:
    return CollectionOp(parent, lambda store: curation.unredact(store, turn_id, start, end, rater=rater))


def set_category(
    *, parent: QWidget | None, transcript_ids: Sequence[TranscriptId], category: Category, rater: str
) -> CollectionOp[OpChanges]:
    ids = list(transcript_ids)
    return CollectionOp(
        parent, lambda store: curation.set_category(store, ids, category, rater=rater)
    )


def undo(*, parent: QWidget | None, rater: str) -> CollectionOp[OpChangesWith[str | None]]:
    return CollectionOp(parent, lambda store: curation.undo(store, rater=rater))


def redo(*, parent: QWidget | None, rater: str) -> CollectionOp[OpChangesWith[str | None]]:
    return CollectionOp(parent, lambda store: curation.redo(store, rater=rater))


# Reads ########################################################################


@dataclass(frozen=True, slots=True)
class Conversation:
    transcript: Transcript
    turns: list[Turn]
    states: dict[TurnId, TurnState]  # the rater's, for therapist turns


@dataclass(frozen=True, slots=True)
class TurnDetail:
    turn: Turn
    state: TurnState
    history: list[DecisionRecord]  # oldest first
    spans: tuple[curation.Span, ...] = ()  # every rater's redactions of this turn


def _states(store: Store, turns: Sequence[Turn], rater: str) -> dict[TurnId, TurnState]:
    # Client turns too: a client turn can be excluded, and the conversation shows it.
    return curation.turn_states(store, [t.id for t in turns if t.role is not Role.OTHER], rater=rater)


def _conversation(store: Store, transcript_id: TranscriptId, rater: str) -> Conversation:
    turns = transcript_store.turns_of(store, transcript_id)
    return Conversation(
        transcript=transcript_store.get_transcript(store, transcript_id),
        turns=turns,
        states=_states(store, turns, rater),
    )


def load_conversation(
    *, parent: QWidget | None, transcript_id: TranscriptId, rater: str
) -> QueryOp[Conversation]:
    return QueryOp(parent, lambda store: _conversation(store, transcript_id, rater))


def load_states(
    *, parent: QWidget | None, turns: Sequence[Turn], rater: str
) -> QueryOp[dict[TurnId, TurnState]]:
    wanted = list(turns)
    return QueryOp(parent, lambda store: _states(store, wanted, rater))


def _turn_detail(store: Store, turn_id: TurnId, rater: str) -> TurnDetail:
    return TurnDetail(
        turn=transcript_store.get_turn(store, turn_id),
        state=curation.turn_state(store, turn_id, rater=rater),
        history=list(curation.history(store, turn_id)),
        spans=tuple(curation.redacted_spans(store, [turn_id])),
    )


def load_turn_detail(*, parent: QWidget | None, turn_id: TurnId, rater: str) -> QueryOp[TurnDetail]:
    return QueryOp(parent, lambda store: _turn_detail(store, turn_id, rater))


def load_summaries(
    *,
    parent: QWidget | None,
    min_words: int,
    rater: str,
    category: Category | None = None,
    status_filter: str | None = None,
) -> QueryOp[list[TranscriptSummary]]:
    return QueryOp(
        parent,
        lambda store: curation.transcript_summaries(
            store, min_words=min_words, rater=rater, category=category, status_filter=status_filter
        ),
    )


def load_eligible(
    *, parent: QWidget | None, min_words: int
) -> QueryOp[list[tuple[TurnId, TranscriptId]]]:
    return QueryOp(parent, lambda store: curation.eligible_turn_ids(store, min_words=min_words))


def search_turns(*, parent: QWidget | None, query: str, limit: int = 200) -> QueryOp[list[SearchHit]]:
    return QueryOp(parent, lambda store: curation.search(store, query, limit=limit))


def load_undo_status(*, parent: QWidget | None, rater: str) -> QueryOp[UndoStatus]:
    return QueryOp(parent, lambda store: curation.undo_status(store, rater=rater))


# Settings and raters ##########################################################


@dataclass(frozen=True, slots=True)
class CurationSettings:
    min_words: int
    rater: str | None
    raters: list[str]


def _settings(store: Store) -> CurationSettings:
    min_words = settings.get_setting(store, MIN_WORDS_KEY, DEFAULT_MIN_WORDS)
    return CurationSettings(
        min_words=int(min_words),  # type: ignore[arg-type]
        rater=curation.get_current_rater(store),
        raters=list(curation.raters(store)),
    )


def load_settings(*, parent: QWidget | None) -> QueryOp[CurationSettings]:
    return QueryOp(parent, _settings)


@dataclass(frozen=True, slots=True)
class FirstScreen:
    """What the window shows first, read in one trip to the database thread.

    Read one after another there, the settings, the eligible turns and the
    first turn's conversation and detail never wait for the GUI thread in
    between (it is busy showing the window meanwhile).
    """

    settings: CurationSettings
    eligible: list[tuple[TurnId, TranscriptId]] | None  # None: no rater chosen yet
    conversation: Conversation | None  # the transcript of the first eligible turn
    detail: TurnDetail | None  # that turn's


def load_first_screen(*, parent: QWidget | None) -> QueryOp[FirstScreen]:
    def op(store: Store) -> FirstScreen:
        saved = _settings(store)
        if saved.rater is None:
            return FirstScreen(saved, None, None, None)
        eligible = curation.eligible_turn_ids(store, min_words=saved.min_words)
        if not eligible:
            return FirstScreen(saved, eligible, None, None)
        turn_id, transcript_id = eligible[0]
        return FirstScreen(
            saved,
            eligible,
            _conversation(store, transcript_id, saved.rater),
            _turn_detail(store, turn_id, saved.rater),
        )

    return QueryOp(parent, op)


def set_min_words(*, parent: QWidget | None, min_words: int) -> CollectionOp[OpChanges]:
    def op(store: Store) -> OpChanges:
        settings.set_setting(store, MIN_WORDS_KEY, int(min_words))
        return OpChanges(settings=True)

    return CollectionOp(parent, op)


def set_rater(*, parent: QWidget | None, name: str) -> CollectionOp[OpChanges]:
    return CollectionOp(parent, lambda store: curation.set_current_rater(store, name))
