"""Plain data classes shared by the store, the importers and the screens."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.ids import TranscriptId, TurnId


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
