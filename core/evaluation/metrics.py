"""The paper's per-reply measures, defined exactly (docs/evaluation.md).

For a reply ``t``:

- ``words(t) = len(t.split())``
- ``sentences(t)`` = non-empty pieces of ``re.split(r"(?<=[.!?])\\s+", t.strip())``
- ``compound(t)`` = VADER ``polarity_scores(t)["compound"]``
- ``questions(t) = t.count("?")``; ``has_question(t) = "?" in t``
- ``uses_name(t, names)``: any client name appears as a whole word, case-insensitive

VADER dominates the cost, so the four text-only measures are computed once
per distinct text (``features``, cached in memory here and in the store's
``text_features`` table by ``core.evaluation.features``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata

from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer, SentiText

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
METRICS_VERSION = 1


def _vader_version() -> str:
    try:
        return metadata.version("vaderSentiment")
    except metadata.PackageNotFoundError:  # a frozen app may ship without dist-info
        return "unknown"


# A cached feature row is reused only if the same scorer produced it.
SCORER = f"vader-{_vader_version()}/metrics-{METRICS_VERSION}"


class _Vader(SentimentIntensityAnalyzer):
    """VADER doing less work for the same scores.

    - Stock ``_negation_check`` and ``_special_idioms_check`` lower-case the
      whole text for every sentiment word (O(n²) per reply), yet only read
      the three words before and the two after it. Each call here gets
      exactly that window, re-indexed, so every index they read names the
      same word.
    - ``polarity_scores`` skips the per-character emoji rewrite when the text
      has no emoji (the rewrite then returns the text unchanged), and appends
      the 0 that stock ``sentiment_valence`` would append for a word outside
      the lexicon without calling it; everything else is stock code.

    ``tests/core/test_evaluation_metrics.py`` checks equality with stock VADER
    on generated texts and on real utterances.
    """

    def __init__(self) -> None:
        super().__init__()
        self._emoji_chars = frozenset(self.emojis)

    def polarity_scores(self, text):  # type: ignore[override]
        if not self._emoji_chars.isdisjoint(text):
            return super().polarity_scores(text)
        text = text.strip()
        sentitext = SentiText(text)
        sentiments: list[float] = []
        words_and_emoticons = sentitext.words_and_emoticons
        lowered = [w.lower() for w in words_and_emoticons]
        lexicon = self.lexicon
        last = len(words_and_emoticons) - 1
        for i, item in enumerate(words_and_emoticons):
            low = lowered[i]
            if low in BOOSTER_DICT or low not in lexicon or (low == "kind" and i < last and lowered[i + 1] == "of"):
                sentiments.append(0)
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words_and_emoticons, sentiments)
        return self.score_valence(sentiments, text)

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):  # type: ignore[override]
        # Called only with i > start_i, so i-1..i-3 never go negative.
        lo = max(0, i - 3)
        return SentimentIntensityAnalyzer._negation_check(
            valence, words_and_emoticons[lo : i + 1], start_i, i - lo
        )

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):  # type: ignore[override]
        if i < 3:  # stock code would wrap negative indices around; keep it identical
            return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons, i)
        return SentimentIntensityAnalyzer._special_idioms_check(
            valence, words_and_emoticons[i - 3 : i + 3], 3
        )


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    # Loading the lexicon takes a few ms; one analyzer serves the process.
    return _Vader()


def words(text: str) -> int:
    return len(text.split())


def sentences(text: str) -> int:
    return sum(1 for piece in _SENTENCE_END.split(text.strip()) if piece)


def compound(text: str) -> float:
    return _analyzer().polarity_scores(text)["compound"]


def questions(text: str) -> int:
    return text.count("?")


def has_question(text: str) -> bool:
    return "?" in text


@functools.lru_cache(maxsize=4096)
def _name_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    # Look-arounds instead of \b so names that start or end with punctuation
    # ("J.", "O'Neil") still need a non-word neighbour on both sides.
    alternatives = [re.escape(n.strip()) for n in names if n.strip()]
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


# The only non-ASCII characters that a case-insensitive ``re`` match pairs with an
# ASCII one (dotted and dotless i, long s, the Kelvin sign); checked against every
# code point by tests/core/test_evaluation_metrics.py.
ASCII_CASE_PARTNERS = frozenset("\u0130\u0131\u017f\u212a")


@functools.lru_cache(maxsize=4096)
def _ascii_needles(names: tuple[str, ...]) -> tuple[str, ...] | None:
    """The names as the pattern has them, lower-cased, when every one is ASCII; else None."""
    stripped = [n.strip() for n in names if n.strip()]
    if not all(n.isascii() for n in stripped):
        return None
    return tuple(n.lower() for n in stripped)


def uses_name(text: str, names: Iterable[str]) -> bool:
    key = tuple(names)
    pattern = _name_pattern(key)
    if pattern is None:
        return False
    # The regex tries every position of the text (~8 µs a reply, most of an evaluation's
    # scoring). For ASCII names, a case-insensitive match is only possible where the
    # lower-cased name occurs in the lower-cased text, unless the text holds one of the
    # few non-ASCII case partners of an ASCII letter: look for that first.
    needles = _ascii_needles(key)
    if needles is not None and (text.isascii() or not any(c in text for c in ASCII_CASE_PARTNERS)):
        lowered = text.lower()
        if not any(needle in lowered for needle in needles):
            return False
    return bool(pattern.search(text))


def has_known_name(names: Iterable[str]) -> bool:
    return any(n.strip() for n in names)


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What the metrics need from one text; ``has_question`` is ``questions > 0``."""

    words: int
    sentences: int
    compound: float
    questions: int

    @property
    def has_question(self) -> bool:
        return self.questions > 0


@functools.lru_cache(maxsize=200_000)
def features(text: str) -> TextFeatures:
    return TextFeatures(words(text), sentences(text), compound(text), questions(text))
