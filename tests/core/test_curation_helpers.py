"""A small workspace for the curation tests (no tests of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from core.ids import TranscriptId, TurnId
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import Store
from core.store import transcripts as transcript_store


def words(n: int, word: str = "word", tail: str = "") -> str:
    return " ".join([word] * (n - 1) + [word + tail]) if n else ""


# (role, text) per transcript: long and short therapist turns, client turns between.
SESSIONS: list[tuple[str, Category, list[tuple[Role, str]]]] = [
    ("Session A", Category.ANXIETY, [
        (Role.CLIENT, "I can't sleep at all lately?"),
        (Role.THERAPIST, "alpha " + words(59, "calm", "?") + " really?"),  # 61 words, 2 "?"
        (Role.CLIENT, "Maybe."),
        (Role.THERAPIST, "Mm-hmm, tell me more about the nights."),  # 7 words
        (Role.THERAPIST, words(55, "breathing") + " bravo"),  # 56 words
    ]),
    ("Session B", Category.OTHER, [
        (Role.THERAPIST, words(70, "gentle") + " charlie"),  # 71 words
        (Role.CLIENT, "That helps, thank you."),
        (Role.THERAPIST, words(52, "steady")),  # 52 words
    ]),
    ("Session C", Category.DEPRESSION, [
        (Role.CLIENT, "Hello."),
        (Role.THERAPIST, "Hello, welcome."),
    ]),
]


@dataclass
class Seeded:
    transcripts: list[TranscriptId]
    # every turn id, by transcript, in position order
    turns: list[list[TurnId]]

    @property
    def long_therapist(self) -> list[TurnId]:
        """The therapist turns of at least 50 words, in navigation order."""
        return [self.turns[0][1], self.turns[0][4], self.turns[1][0], self.turns[1][2]]


def seed(store: Store) -> Seeded:
    transcripts, turns = [], []
    with store.transaction():
        for n, (title, category, session) in enumerate(SESSIONS):
            parsed = ParsedTranscript(
                title=title,
                format="text",
                category=category,
                turns=[ParsedTurn(role, "T" if role is Role.THERAPIST else "C", text, text)
                       for role, text in session],
            )
            tid = transcript_store.insert_transcript(
                store, parsed, source_path=f"/sessions/{n}.txt", content_hash=f"{n:064x}"
            )
            transcripts.append(tid)
    for tid in transcripts:
        turns.append([t.id for t in transcript_store.turns_of(store, tid)])
    return Seeded(transcripts, turns)


def log_count(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
