"""The leakage check every build must pass before anything is stored.

A model tested on a client it was trained on, on a reply it has already
seen, or on a client message it was trained to answer (counsel-chat has
several therapists' answers to one question), looks better than it is. The check is independent of how the splits were
made: it looks only at the finished assignment, so a bug in the splitter (or a
frozen test split whose clients were later merged with others) still stops
the build.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, TypeVar

from core.errors import AttuneError
from core.ids import TranscriptId, TurnId

_WORD = re.compile(r"\w+")
# ASCII fast path of the same rule: every non-word character becomes a space.
_ASCII_NON_WORD = {i: " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
# The same as a byte table: bytes.translate is several times faster than str.translate
# (two texts of every target are normalised per build).
_ASCII_NON_WORD_BYTES = bytes(0x20 if i in _ASCII_NON_WORD else i for i in range(256))
_ASCII_NON_WORD_DELETE = bytes(_ASCII_NON_WORD)
MAX_REASONS_SHOWN = 3
K = TypeVar("K")

# Two prompts are "the same client text" when their normalised texts are equal,
# or near-duplicates: Jaccard similarity of their word-bigram sets at least
# NEAR_DUPLICATE_JACCARD. Prompts shorter than MIN_PROMPT_WORDS normalised words
# ("Yeah.", "Mm-hmm.", "I don't know.") are said by everyone and identify no
# conversation; comparing them would tie every session into one group.
NEAR_DUPLICATE_JACCARD = 0.8
SHINGLE_WORDS = 2
MIN_PROMPT_WORDS = 5


class LeakageError(AttuneError):
    """The splits would leak test material into training; the build is refused."""


class LeakageItem(NamedTuple):  # a tuple: tens of thousands per build, made cheaply
    turn_id: TurnId
    split: str
    transcript_id: TranscriptId
    client_key: str | None
    text_key: str | bytes  # equal exactly when the normalised target texts are (``equality_keys``)
    prompt_key: str = ""  # normalise(text of the turn the target answers)


def normalise(text: str) -> str:
    """Case, punctuation and spacing removed: what makes two replies "the same text"."""
    folded = text.casefold()
    if folded.isascii():
        return b" ".join(folded.encode("ascii").translate(_ASCII_NON_WORD_BYTES).split()).decode("ascii")
    return " ".join(_WORD.findall(folded))


def equality_keys(texts: Mapping[K, str]) -> dict[K, str | bytes]:
    """A key per text, two keys equal exactly when the texts' ``normalise`` are equal.

    ``normalise`` (splitting every text into words) is the costly part, and
    most texts share nothing with another: each text's letters and digits
    alone (what normalise keeps, less the spaces; a byte table does it for
    ASCII) stand for it when no other text has the same; only texts that do
    are normalised. Equal normalised texts have equal letters, so they always
    meet in that second group. A text repeated word for word is looked at once.
    """
    coarse = {t: _letters(t) for t in set(texts.values())}
    shared = {c for c, n in Counter(coarse.values()).items() if n > 1}
    key = {t: normalise(t) if c in shared else c for t, c in coarse.items()}
    return {k: key[t] for k, t in texts.items()}


def normalised(texts: Iterable[str]) -> dict[str, str]:
    """``normalise`` of each distinct text (client texts repeat: "Yeah.", "I don't know.")."""
    return {t: normalise(t) for t in set(texts)}


def _letters(text: str) -> bytes:
    folded = text.casefold()
    if folded.isascii():
        return folded.encode("ascii").translate(None, _ASCII_NON_WORD_DELETE)
    return normalise(text).replace(" ", "").encode("utf-8", "surrogatepass")


def find_leaks(items: Iterable[LeakageItem]) -> list[str]:
    """Every reason the assignment leaks, most serious first; empty when clean."""
    items = list(items)
    test_transcripts: set[int] = set()
    test_clients: set[str] = set()
    test_texts: dict[str, TurnId] = {}
    for it in items:
        if it.split == "test":
            test_transcripts.add(it.transcript_id)
            if it.client_key:
                test_clients.add(it.client_key)
            test_texts.setdefault(it.text_key, it.turn_id)
    by_transcript: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_client: dict[tuple[str, str], list[int]] = defaultdict(list)
    texts: list[str] = []
    for it in items:
        if it.split == "test":
            continue
        if it.transcript_id in test_transcripts:
            by_transcript[(it.transcript_id, it.split)].append(it.turn_id)
        if it.client_key and it.client_key in test_clients:
            by_client[(it.client_key, it.split)].append(it.turn_id)
        twin = test_texts.get(it.text_key)
        if twin is not None:
            texts.append(f"test target turn {twin} has the same text as {it.split} target turn {it.turn_id}")
    reasons = [
        f"transcript {tid} has test targets and {split} targets (turns {_ids(turns)})"
        for (tid, split), turns in sorted(by_transcript.items())
    ]
    reasons += [
        f"client {key!r} has test targets and {split} targets (turns {_ids(turns)})"
        for (key, split), turns in sorted(by_client.items())
    ]
    return reasons + texts + _prompt_leaks(items)


def _prompt_leaks(items: list[LeakageItem]) -> list[str]:
    """Targets in different splits that answer the same (or a near-identical) client text."""
    by_prompt: dict[str, list[LeakageItem]] = defaultdict(list)
    for it in items:
        if comparable(it.prompt_key):
            by_prompt[it.prompt_key].append(it)
    prompts = sorted(by_prompt)
    out: list[str] = []
    for p in prompts:
        members = by_prompt[p]
        splits = sorted({m.split for m in members}, key=_SPLIT_RANK.get)
        if len(splits) > 1:
            first = {s: min(m.turn_id for m in members if m.split == s) for s in splits}
            out.append(f"{splits[0]} target turn {first[splits[0]]} and {splits[1]} target turn "
                       f"{first[splits[1]]} answer the same client text")
    for i, j, score in similar_pairs(prompts):
        a = {m.split for m in by_prompt[prompts[i]]}
        b = {m.split for m in by_prompt[prompts[j]]}
        crossing = sorted(((x, y) for x in a for y in b if x != y),
                          key=lambda xy: (_SPLIT_RANK[xy[0]], _SPLIT_RANK[xy[1]]))
        if crossing:
            sa, sb = crossing[0]
            ta = min(m.turn_id for m in by_prompt[prompts[i]] if m.split == sa)
            tb = min(m.turn_id for m in by_prompt[prompts[j]] if m.split == sb)
            out.append(f"{sa} target turn {ta} and {sb} target turn {tb} answer near-identical client "
                       f"texts (word-bigram Jaccard {score:.2f})")
    return out


_SPLIT_RANK = {"test": 0, "validation": 1, "train": 2}


def comparable(prompt_key: str) -> bool:
    """Whether a normalised prompt is long enough to be compared at all."""
    return prompt_key.count(" ") + 1 >= MIN_PROMPT_WORDS if prompt_key else False


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = text.split()
    if len(words) < SHINGLE_WORDS:
        return frozenset([tuple(words)])
    return frozenset(zip(*(words[k:] for k in range(SHINGLE_WORDS)), strict=False))


def similar_pairs(texts: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[int, int, float]]:
    """(i, j, Jaccard) for every pair of *distinct* texts whose shingle sets are at least ``threshold`` similar.

    Exact, and fast on large sets (prefix filtering): shingles are ranked
    rarest first; two sets with Jaccard >= t must share one of the first
    ``|A| - ceil(t |A|) + 1`` shingles of each, so only those are indexed, and
    candidates are checked by size before their Jaccard is computed.
    """
    sets = [_shingles(t) for t in texts]
    df: Counter[tuple[str, ...]] = Counter()
    for sh in sets:
        df.update(sh)
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    pairs: list[tuple[int, int, float]] = []
    for j in sorted(range(len(sets)), key=lambda k: len(sets[k])):
        sh = sets[j]
        size = len(sh)
        prefix = size - math.ceil(threshold * size - 1e-9) + 1
        ranked = sorted(sh, key=lambda g: (df[g], g))[:prefix]
        seen: set[int] = set()
        for g in ranked:
            for i in index[g]:
                if i in seen:
                    continue
                seen.add(i)
                other = sets[i]
                if len(other) < threshold * size:  # processed by size: len(other) <= size
                    continue
                inter = len(sh & other)
                score = inter / (size + len(other) - inter)
                if score >= threshold:
                    pairs.append((min(i, j), max(i, j), score))
            index[g].append(j)
    return sorted(pairs)


def check_leakage(items: Iterable[LeakageItem]) -> None:
    reasons = find_leaks(items)
    if reasons:
        more = f" (and {len(reasons) - MAX_REASONS_SHOWN} more)" if len(reasons) > MAX_REASONS_SHOWN else ""
        raise LeakageError(
            "leakage check failed, nothing was built: " + "; ".join(reasons[:MAX_REASONS_SHOWN]) + more
        )


def _ids(turns: list[int]) -> str:
    shown = ", ".join(str(t) for t in sorted(turns)[:5])
    return shown + (", …" if len(turns) > 5 else "")
