"""A workspace with a built dataset and a fake Google to send it to (pytest fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.curation import exclude, redact
from core.datasets import DatasetRules, build_dataset
from core import gemini_connection as gconn
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import Store, open_store
from core.store.decisions import ExcludeReason
from tests.core.datasets_fixtures import add_session, populate
from tests.fakes.gemini_server import FakeGoogle

# Words that must never leave the machine (an excluded turn, a redacted span),
# and one that must (their neighbour), in a session of their own.
EXCLUDED_WORD = "zebraexcluded"
REDACTED_WORD = "quokkaredacted"
VISIBLE_WORD = "okapivisible"
CLIENT_NAME = "Dana Evans"

_LONG = ("I hear how much this week has asked of you and I want us to slow down and look at what "
         "has helped before when the evenings got heavy and the worry about work and family kept "
         "you awake so we can plan one small step together")


def _special_session() -> ParsedTranscript:
    def t(role: Role, text: str) -> ParsedTurn:
        return ParsedTurn(role, "Therapist" if role is Role.THERAPIST else "Client", text, text)

    turns = []
    for n in range(6):
        turns.append(t(Role.CLIENT, f"Dana here, round {n}, I wrote to dana.evans@example.com about it."))
        turns.append(t(Role.THERAPIST, f"{_LONG} number {n}."))
    turns[2] = t(Role.CLIENT, f"My secret {EXCLUDED_WORD} story is not for anyone.")
    turns[4] = t(Role.CLIENT, f"Call me on 555-123-4567, {REDACTED_WORD} lives at 12 Baker Street.")
    turns[6] = t(Role.CLIENT, f"Something {VISIBLE_WORD} that may be shared.")
    turns[8] = t(Role.CLIENT, f"Again {VISIBLE_WORD} and more.")
    return ParsedTranscript(title="Special", format="test", turns=turns, category=Category.ANXIETY,
                            client_key="client-special", client_names=[CLIENT_NAME])


def make_workspace(home: Path, *, sessions: int = 24, withheld: bool = True) -> Store:
    store = open_store(home)
    populate(store, sessions, seed=3)
    tid = add_session(store, _special_session(), "special")
    turns = store.conn.execute("SELECT id, text FROM turns WHERE transcript_id = ? ORDER BY position", [tid]).fetchall()
    if withheld:
        exclude(store, [turns[2][0]], rater="me", reason=ExcludeReason.IDENTIFYING)
        text = turns[4][1]
        start = text.index(REDACTED_WORD)
        redact(store, turns[4][0], start, start + len(REDACTED_WORD), rater="me")
    build_dataset(store, "d", DatasetRules(min_words=40, split=(60, 20, 20)))
    return store


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    server = FakeGoogle().start()
    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gstore(tmp_path: Path) -> Iterator[Store]:
    store = make_workspace(tmp_path / "ws")
    gconn.save(store, gconn.Connection(project="proj", region="us-central1", bucket="bkt", prefix="attune",
                                       auth="access_token", access_token_file=str(tmp_path / "no-token")))
    try:
        yield store
    finally:
        store.close()
