"""The leakage check every build must pass before anything is stored.

A model tested on a client it was trained on, or on a reply it has already
seen, looks better than it is. The check is independent of how the splits were
made: it looks only at the finished assignment, so a bug in the splitter (or a
frozen test split whose clients were later merged with others) still stops
the build.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import AttuneError
from core.ids import TranscriptId, TurnId

_WORD = re.compile(r"\w+")
# ASCII fast path of the same rule: every non-word character becomes a space.
_ASCII_NON_WORD = {i: " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
MAX_REASONS_SHOWN = 3


class LeakageError(AttuneError):
    """The splits would leak test material into training; the build is refused."""


@dataclass(frozen=True, slots=True)
class LeakageItem:
    turn_id: TurnId
    split: str
    transcript_id: TranscriptId
    client_key: str | None
    text_key: str  # normalise(target text)


def normalise(text: str) -> str:
    """Case, punctuation and spacing removed: what makes two replies "the same text"."""
    folded = text.casefold()
    if folded.isascii():
        return " ".join(folded.translate(_ASCII_NON_WORD).split())
    return " ".join(_WORD.findall(folded))


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
    return reasons + texts


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
