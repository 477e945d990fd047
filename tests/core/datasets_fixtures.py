"""Small synthetic workspaces for the dataset tests (no real data needed)."""

from __future__ import annotations

import atexit
import contextlib
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

from core.ids import TranscriptId
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import Store, open_store
from core.store import transcripts as transcript_store

WORDS = (
    "sleep work worry family money tired anxious calm plan week talk morning evening partner "
    "school health rest change stress hopeful stuck lonely better harder today maybe really"
).split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def turn(role: Role, text: str) -> ParsedTurn:
    speaker = {Role.THERAPIST: "Therapist", Role.CLIENT: "Client", Role.OTHER: "Interpreter"}[role]
    return ParsedTurn(role, speaker, text, text)


def random_session(rng: random.Random, title: str, *, category: Category, client_key: str | None,
                   client_name: str, n_turns: int = 30) -> ParsedTranscript:
    """Mostly alternating client/therapist turns with AnnoMI-like lengths, plus the awkward cases:
    ``other`` turns, consecutive same-role turns, a therapist opening."""
    turns: list[ParsedTurn] = [turn(Role.THERAPIST, sentence(rng, 60))]  # opens the session: no client before it
    role = Role.CLIENT
    while len(turns) < n_turns:
        r = rng.random()
        if r < 0.05:
            turns.append(turn(Role.OTHER, sentence(rng, 6)))
            continue
        if role is Role.THERAPIST:
            words = rng.choice([3, 5, 12, 30, 55, 70, 90])
        else:
            words = rng.choice([2, 6, 15, 40])
        turns.append(turn(role, sentence(rng, words)))
        if rng.random() > 0.08:  # sometimes the same speaker again
            role = Role.CLIENT if role is Role.THERAPIST else Role.THERAPIST
    return ParsedTranscript(
        title=title, format="test", turns=turns, category=category,
        client_key=client_key, client_names=[client_name],
    )


def populate(store: Store, n_sessions: int = 60, seed: int = 7) -> list[TranscriptId]:
    """Sessions over four categories; about two sessions per client, some clients unknown."""
    rng = random.Random(seed)
    cats = [Category.ANXIETY, Category.DEPRESSION, Category.ANGER, Category.OTHER]
    ids = []
    with store.transaction():
        for i in range(n_sessions):
            client = None if i % 5 == 0 else f"client-{i // 2}"
            s = random_session(rng, f"Session {i}", category=cats[i % 4] if client is None else cats[(i // 2) % 4],
                               client_key=client, client_name=f"Name{i // 2}")
            ids.append(transcript_store.insert_transcript(
                store, s, source_path=f"synthetic-{i}.txt", content_hash=f"synthetic-{seed}-{i}"))
    return ids


def add_session(store: Store, parsed: ParsedTranscript, tag: str) -> TranscriptId:
    with store.transaction():
        return transcript_store.insert_transcript(store, parsed, source_path=f"{tag}.txt", content_hash=f"hash-{tag}")


# (n_sessions, seed) -> a populated template database, built once per test run.
_TEMPLATES: dict[tuple[int, int], Path] = {}


def _template(n_sessions: int, seed: int) -> Path:
    key = (n_sessions, seed)
    if key not in _TEMPLATES:
        root = Path(tempfile.mkdtemp(prefix="attune-template-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        with open_store(root / "ws") as store:
            populate(store, n_sessions, seed)
        _TEMPLATES[key] = store.path
    return _TEMPLATES[key]


def open_populated(home: Path, n_sessions: int = 60, seed: int = 7) -> Store:
    """A new workspace holding ``populate(n_sessions, seed)``'s sessions.

    Importing the sessions for every test was most of their set-up time; the
    first call builds a template and later ones copy its pages (SQLite's
    backup API) into a freshly created store, so the workspace is exactly as
    ``populate`` would leave it (no routine backup, same row ids).
    """
    store = open_store(home)
    with contextlib.closing(sqlite3.connect(_template(n_sessions, seed))) as template:
        template.backup(store.conn)
    return store
