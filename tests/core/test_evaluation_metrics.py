"""Each metric on hand-computed examples, and the fast VADER equal to stock VADER."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment import vaderSentiment as vader_module
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from core.evaluation import metrics
from tests.conftest import ANNOMI_SIMPLE, COUNSEL_CHAT, needs_annomi


def _lexicon() -> dict[str, float]:
    # Read VADER's own lexicon file, so the expected scores below are worked
    # out from its published valences, not from our code.
    path = Path(vader_module.__file__).with_name("vader_lexicon.txt")
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, valence = line.split("\t")[:2]
        out[word] = float(valence)
    return out


LEXICON = _lexicon()


def _normalised(score: float) -> float:
    # VADER's normalize(): x / sqrt(x^2 + 15), rounded to 4 decimals.
    return round(score / math.sqrt(score * score + 15), 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("   ", 0), ("Hello", 1), ("Tell me more, Sam.", 4), ("one\ttwo\nthree  four", 4)],
)
def test_words_is_whitespace_split(text: str, expected: int) -> None:
    assert metrics.words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("   ", 0),
        ("Hello", 1),
        ("Sam, tell me more. What happens then?", 2),
        ("Wait... what?! Really!", 3),
        ("One.\n\nTwo.", 2),
        ("No space after.Period", 1),  # a split needs whitespace after the mark
        ("Dr. Smith is here.", 2),  # the definition is literal: abbreviations split too
        ("  Trailing space. ", 1 + 0),
    ],
)
def test_sentences_follow_the_regex_definition(text: str, expected: int) -> None:
    assert metrics.sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "count", "has"),
    [("", 0, False), ("Okay.", 0, False), ("Why?", 1, True), ("What? When?? How?", 4, True)],
)
def test_questions_count_question_marks(text: str, count: int, has: bool) -> None:
    assert metrics.questions(text) == count
    assert metrics.has_question(text) is has


def test_compound_by_hand_from_the_lexicon() -> None:
    assert LEXICON["good"] == 1.9 and LEXICON["sad"] == -2.1 and LEXICON["tired"] == -1.9
    for word in ("that", "sounds", "it", "is", "you", "are", "tell", "me"):
        assert word not in LEXICON
    assert metrics.compound("That sounds good.") == _normalised(1.9) == 0.4404
    assert metrics.compound("It is sad.") == _normalised(-2.1) == -0.4767
    assert metrics.compound("You are tired.") == _normalised(-1.9)
    assert metrics.compound("Tell me.") == 0.0
    # Two or more question marks add 0.18 each (VADER's emphasis rule) to a non-zero sum.
    assert metrics.compound("That sounds good?? ") == _normalised(1.9 + 2 * 0.18)


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("I hear you, Sam.", ["Sam"], True),
        ("SAM! Over here", ["Sam"], True),
        ("Samuel said so", ["Sam"], False),
        ("It was Sam's idea", ["Sam"], True),
        ("mary ann, hello", ["Mary Ann"], True),
        ("Thanks J. for that", ["J."], True),
        ("Thanks JJ. for that", ["J."], False),
        ("Anyone here?", [], False),
        ("Anyone here?", ["  "], False),
        ("Hi Jo", ["Sam", "Jo"], True),
        ("A (Sam) aside", ["Sam"], True),
    ],
)
def test_uses_name_whole_word_case_insensitive(text: str, names: list[str], expected: bool) -> None:
    assert metrics.uses_name(text, names) is expected


def test_ascii_case_partners_are_every_non_ascii_match_of_an_ascii_character() -> None:
    # uses_name skips the regex when the lower-cased ASCII names are not in the
    # lower-cased text; that is exact only if no other non-ASCII character matches
    # an ASCII one case-insensitively, or lower-cases to ASCII.
    import re

    every = "".join(map(chr, range(0x80, 0x110000)))
    partners = {c for a in range(0x80) for c in re.findall(re.escape(chr(a)), every, re.IGNORECASE)}
    lowers_to_ascii = {c for c in every if any(x.isascii() for x in c.lower())}
    assert partners | lowers_to_ascii <= metrics.ASCII_CASE_PARTNERS


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("thanks, ſam", ["Sam"], True),  # long s: the regex's case-insensitive partner of s
        ("thanks, \u212aim", ["Kim"], True),  # Kelvin sign
        ("hi \u0130van", ["ivan"], True),
        ("dırk’s idea", ["Dirk"], True),  # dotless i, and a non-ASCII apostrophe after
        ("so – Sam – said", ["sam"], True),  # non-ASCII text, ASCII name
        ("café Zoë", ["zoë"], True),  # a non-ASCII name: the regex alone
        ("Samantha’s plan", ["Sam"], False),
        ("I’m with Sam", ["  sam  "], True),
    ],
)
def test_uses_name_fast_path_agrees_with_the_regex(text: str, names: list[str], expected: bool) -> None:
    assert metrics.uses_name(text, names) is expected
    pattern = metrics._name_pattern(tuple(names))
    assert bool(pattern and pattern.search(text)) is expected


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("samSAMkKiIıİſ\u212a .,'’-é"), max_size=20),
       st.lists(st.text(alphabet=st.sampled_from("samSAMkiIJ. '"), min_size=1, max_size=5), max_size=3))
def test_uses_name_equals_the_plain_regex(text: str, names: list[str]) -> None:
    pattern = metrics._name_pattern(tuple(names))
    assert metrics.uses_name(text, names) is bool(pattern and pattern.search(text))


def test_features_are_computed_once_per_text() -> None:
    a = metrics.features("A text only this test uses, good and sad?")
    b = metrics.features("A text only this test uses, good and sad?")
    assert a is b
    assert (a.words, a.sentences, a.questions, a.has_question) == (9, 1, 1, True)


# The fast analyzer must score exactly like stock VADER ######################

_VOCAB = [
    "good", "sad", "not", "never", "so", "this", "without", "doubt", "kind", "of", "sort",
    "but", "very", "extremely", "least", "at", "no", "or", "nor", "GREAT", "TERRIBLE", "isn't",
    "the", "shit", "bomb", "cut", "me", "some", "slack", "hand", "to", "mouth", "you", "feel",
    "happy", "tired", "okay", "like", "love", "hate", "kinda", ":)", ":(", "!", "?", "yeah", "right",
    "back", "handed", "bad", "ass", "upper", "break", "a", "leg", "hardly", "barely", "really",
    "😀", "💔", "good😀", "  ", "\n", "NO", "Kind", "OF", "BUT",
]


_STOCK = SentimentIntensityAnalyzer()


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), min_size=0, max_size=40))
def test_fast_vader_equals_stock_vader(words: list[str]) -> None:
    text = " ".join(words)
    assert metrics._analyzer().polarity_scores(text) == _STOCK.polarity_scores(text)


@needs_annomi
def test_fast_vader_equals_stock_vader_on_real_utterances() -> None:
    stock = _STOCK
    fast = metrics._analyzer()
    with ANNOMI_SIMPLE.open(encoding="utf-8") as f:
        texts = [row["utterance_text"] for row in csv.DictReader(f)][:3000]
    joined = [" ".join(texts[i : i + 4]) for i in range(0, len(texts), 4)]
    differ = [t for t in texts + joined if fast.polarity_scores(t) != stock.polarity_scores(t)]
    assert not differ, f"{len(differ)} texts score differently, e.g. {differ[0][:80]!r}"


@pytest.mark.skipif(not COUNSEL_CHAT.exists(), reason=f"counsel-chat data not present at {COUNSEL_CHAT}")
def test_fast_vader_equals_stock_vader_on_long_real_answers() -> None:
    fast = metrics._analyzer()
    with COUNSEL_CHAT.open(encoding="utf-8") as f:
        texts = [f"{row['questionText']} {row['answerText']}" for row in csv.DictReader(f)][:600]
    differ = [t for t in texts if fast.polarity_scores(t) != _STOCK.polarity_scores(t)]
    assert not differ, f"{len(differ)} texts score differently, e.g. {differ[0][:80]!r}"
