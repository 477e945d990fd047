"""The domain's plain types, shared by the store, the domain packages and the screens.

They live below the store (the store builds them from rows) and above nothing but
``core.ids``, so every layer can name them without importing SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.ids import DatasetId, DecisionId, TranscriptId, TurnId


class Role(StrEnum):
    THERAPIST = "therapist"
    CLIENT = "client"
    OTHER = "other"


class Category(StrEnum):
    """The paper's six symptom categories, plus Other for everything else."""

    ANXIETY = "Anxiety"
    DEPRESSION = "Depression"
    FATIGUE = "Fatigue"
    FRUSTRATION = "Frustration"
    SADNESS = "Sadness"
    ANGER = "Anger"
    OTHER = "Other"

    @classmethod
    def parse(cls, text: str) -> Category:
        """Case-insensitive lookup; raises ValueError naming the valid values."""
        wanted = text.strip().lower()
        for member in cls:
            if member.value.lower() == wanted:
                return member
        valid = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown category {text!r} (valid: {valid})")


def turn_number(position: int) -> int:
    """The turn number people see, in the app and on the command line alike: 1 for a
    transcript's first turn. Turn ids are internal and only given where a command takes one."""
    return position + 1


def word_count(text: str) -> int:
    """Whitespace word count, the paper's (and the metrics') definition."""
    return len(text.split())


@dataclass(slots=True)
class ParsedTurn:
    """One speaker turn as an importer produced it, after cleaning."""

    role: Role
    speaker: str
    text: str
    raw_text: str


@dataclass(slots=True)
class ParsedTranscript:
    """One session as an importer produced it, not yet stored."""

    title: str
    format: str
    turns: list[ParsedTurn]
    category: Category = Category.OTHER
    client_key: str | None = None
    client_names: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    unknown_labels: list[str] = field(default_factory=list)
    # Page furniture lines (running heads, page stamps) taken out of this session's text.
    furniture_lines: int = 0


@dataclass(frozen=True, slots=True)
class Transcript:
    id: TranscriptId
    title: str
    source_path: str
    content_hash: str
    format: str
    category: Category
    client_key: str | None
    client_names: tuple[str, ...]
    metadata: dict[str, Any]
    imported_at: str
    turn_count: int


@dataclass(frozen=True, slots=True)
class Turn:
    id: TurnId
    transcript_id: TranscriptId
    position: int
    role: Role
    speaker: str
    text: str
    raw_text: str
    word_count: int

    @property
    def number(self) -> int:
        return turn_number(self.position)


# Curation ###################################################################


class ExcludeReason(StrEnum):
    IDENTIFYING = "identifying information"
    CLINICAL = "clinically inappropriate"
    CRISIS = "crisis or risk content"
    TECHNIQUE = "technique not to imitate"
    TRANSCRIPTION = "transcription error"
    OTHER = "other"


class Status(StrEnum):
    INCLUDED = "included"
    EXCLUDED = "excluded"
    UNREVIEWED = "unreviewed"


@dataclass(frozen=True, slots=True)
class RaterState:
    """One rater's view of one turn; the default is "never touched"."""

    status: Status = Status.UNREVIEWED
    rating: int | None = None
    reason: ExcludeReason | None = None
    note: str | None = None
    flagged: bool = False

    def is_blank(self) -> bool:
        return self == RaterState()


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One row of the log: who did what to which turn (or transcript), when.

    ``status``…``flagged`` are the rater's complete state of the turn after
    this row. Category changes have ``turn_id`` None and ``category`` set.
    """

    id: DecisionId
    batch: int
    turn_id: TurnId | None
    transcript_id: TranscriptId
    rater: str
    action: str
    status: Status | None
    rating: int | None
    reason: ExcludeReason | None
    note: str | None
    flagged: bool | None
    category: str | None
    prev_category: str | None
    at: str

    def state(self) -> RaterState:
        return RaterState(
            status=self.status or Status.UNREVIEWED,
            rating=self.rating,
            reason=self.reason,
            note=self.note,
            flagged=bool(self.flagged),
        )


@dataclass(frozen=True, slots=True)
class RedactionRecord:
    """One row of the redaction log: after it, ``active`` says whether the span is redacted."""

    id: int
    batch: int
    rater: str
    action: str  # redact | unredact | undo | redo
    turn_id: TurnId
    transcript_id: TranscriptId
    start: int
    end: int
    reason: str
    active: bool
    at: str


@dataclass(frozen=True, slots=True)
class DeletionImpact:
    """What deleting some transcripts takes with it, shown before anyone confirms."""

    transcripts: list[tuple[TranscriptId, str]]  # (id, title)
    turns: int
    decisions: int  # decision-log rows (every rater's), deleted with their turns
    # datasets holding examples from these transcripts, plus any that reuse one
    # of their frozen test splits: (name, examples from these transcripts), oldest first
    datasets: list[tuple[str, int]]
    replies: int  # imported replies to those datasets' items that no other dataset holds


# Datasets ###################################################################


# Word counts at or above this share one histogram bin ("150+").
LENGTH_HISTOGRAM_CAP = 150

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True, slots=True)
class ExampleRow:
    example_id: str
    split: str
    turn_id: TurnId
    transcript_id: TranscriptId
    category: str
    target_words: int
    context_turn_ids: tuple[TurnId, ...]


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    id: DatasetId
    name: str
    created_at: str
    rules: dict[str, Any]
    seed: int
    counts: dict[str, Any]
    content_hash: str
    system_instruction: str
    test_from: DatasetId | None
    test_frozen: bool


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One held-out test item: the context, the real therapist reply, who the client is."""

    example_id: str
    dataset_id: DatasetId
    category: str
    # (role, text), oldest first; role is therapist/client. Consecutive turns of
    # one role are merged (joined by a newline), exactly as in the exported files.
    context: tuple[tuple[str, str], ...]
    reference: str
    client_names: tuple[str, ...]
    turn_id: TurnId
    transcript_id: TranscriptId
