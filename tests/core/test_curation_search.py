"""Search over every turn: results, order, snippets, and safety for any typed text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import curation
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import transcripts as transcript_store
from tests.core.test_curation_helpers import seed


@pytest.fixture
def seeded(store):
    return seed(store)


def test_finds_the_turn_and_says_where_it_is(store, seeded) -> None:
    hits = curation.search(store, "charlie")
    assert [(h.turn_id, h.transcript_id, h.position, h.role) for h in hits] == [
        (seeded.turns[1][0], seeded.transcripts[1], 0, "therapist")]
    assert f"{curation.SNIPPET_OPEN}charlie{curation.SNIPPET_CLOSE}" in hits[0].snippet


def test_every_word_is_required_and_case_does_not_matter(store, seeded) -> None:
    assert [h.turn_id for h in curation.search(store, "SLEEP lately")] == [seeded.turns[0][0]]
    assert curation.search(store, "sleep charlie") == []


def test_last_word_matches_as_a_prefix_while_typing(store, seeded) -> None:
    assert [h.turn_id for h in curation.search(store, "breath")] == [seeded.turns[0][4]]
    # Two letters are too short to expand: only the whole word matches.
    assert curation.search(store, "br") == []


def test_hits_come_in_transcript_and_position_order_and_respect_limit(store, seeded) -> None:
    hits = curation.search(store, "hello")
    assert [(h.transcript_id, h.position) for h in hits] == [(seeded.transcripts[2], 0), (seeded.transcripts[2], 1)]
    assert len(curation.search(store, "hello", limit=1)) == 1
    assert curation.search(store, "hello", limit=0) == []


@pytest.mark.parametrize(
    "query",
    ['"', "AND", "OR NOT", "NEAR(a b)", "text:calm", "calm*", "^calm", "-calm", "(calm", "calm)",
     "a + b", "{text}: calm", "\x00calm", "''", "*", ":", "calm\ud800"],
)
def test_fts_syntax_in_the_query_is_taken_literally(store, seeded, query: str) -> None:
    hits = curation.search(store, query)
    assert isinstance(hits, list)


def test_operator_words_are_searched_as_words(store) -> None:
    with store.transaction():
        transcript_store.insert_transcript(
            store,
            ParsedTranscript(title="ops", format="text", category=Category.OTHER, turns=[
                ParsedTurn(Role.THERAPIST, "T", "do NOT give up OR stop", "x"),
                ParsedTurn(Role.THERAPIST, "T", "give up", "x"),
            ]),
            source_path="/ops.txt", content_hash="f" * 64,
        )
    assert [h.snippet.count(curation.SNIPPET_OPEN) for h in curation.search(store, "NOT give")] == [2]
    assert len(curation.search(store, '"give up"')) == 2
    assert len(curation.search(store, "give OR stop")) == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=40))
def test_any_text_never_raises(store, seeded, query: str) -> None:
    hits = curation.search(store, query, limit=5)
    assert len(hits) <= 5
    fts = curation.fts_query(query)
    assert fts is None or fts.startswith('"')


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(alphabet='"*:^()-+{}[] ANDORNOTNEARabc\\\'.,\x00', max_size=30))
def test_fts_operators_never_raise(store, seeded, query: str) -> None:
    assert isinstance(curation.search(store, query), list)


def test_a_pasted_paragraph_uses_its_first_words(store, seeded) -> None:
    text = "I can't sleep at all lately? " * 40
    assert [h.turn_id for h in curation.search(store, text)] == [seeded.turns[0][0]]
    assert curation.fts_query(text).count('"') == 2 * curation.MAX_SEARCH_WORDS
