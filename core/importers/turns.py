"""What every importer shares once it has (speaker, text) pairs: roles and turn assembly.

``SpeakerRoles`` maps a speaker label as written to a role (label → role map,
then an honorific rule, then ``other``) and remembers the unknown labels so the
import can report them. ``assemble_turns`` cleans each utterance, keeps the raw
text beside the cleaned one, drops turns left empty and merges consecutive
turns of one speaker.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

from core.cleaning import clean
from core.models import ParsedTurn, Role
from core.importers.speaker_map import normalise_label

# "DR. LEE", "DOCTOR PATEL", "PROF. KIM": a titled professional in a session is the clinician.
_HONORIFICS = ("DR ", "DOCTOR ", "PROF ", "PROFESSOR ")
# "CLIENT 2", "THERAPIST-1": numbered participants take the role of the base label.
_WORD_CHAR = re.compile(r"[^\W_]")
_NUMBERED = re.compile(r"^(.*?)[\s-]*\d+$")


@functools.lru_cache(maxsize=16)
def _normalised_map(items: tuple[tuple[str, Role | str], ...]) -> dict[str, Role]:
    # One per import, not one per file: normalising the map was 5% of a large import.
    return {normalise_label(k): Role(v) for k, v in items}


class SpeakerRoles:
    def __init__(self, speaker_map: Mapping[str, Role | str]) -> None:
        self._map = _normalised_map(tuple(speaker_map.items()))  # shared: read only
        self._cache: dict[str, Role | None] = {}
        self.unknown: list[str] = []

    def known(self, label: str) -> Role | None:
        """The role for ``label`` if the map or the honorific rule knows it, else None."""
        try:
            return self._cache[label]
        except KeyError:
            pass
        key = normalise_label(label)
        role = self._map.get(key)
        if role is None:
            numbered = _NUMBERED.match(key)
            if numbered and numbered.group(1):
                role = self._map.get(numbered.group(1))
        if role is None and key.startswith(_HONORIFICS):
            role = Role.THERAPIST
        self._cache[label] = role
        return role

    def role(self, label: str) -> Role:
        """The role for ``label``; unknown labels become ``other`` and are reported once."""
        role = self.known(label)
        if role is None:
            if label not in self.unknown:
                self.unknown.append(label)
            return Role.OTHER
        return role


def assemble_turns(
    utterances: Iterable[tuple[Role, str, str]], spoken: Sequence[str] | None = None
) -> list[ParsedTurn]:
    """(role, speaker as written, raw text) → cleaned turns.

    ``spoken``, when given, holds per utterance the text to clean instead of its
    raw text: the raw text without page furniture (``importers/furniture.py``),
    which is kept as imported.
    Utterances left without a letter or digit after cleaning are dropped before
    merging, so a client's "[laughs]" between two therapist utterances does not
    keep them apart.
    Merged text joins with a space (raw text with a newline).
    """
    turns: list[ParsedTurn] = []
    last: ParsedTurn | None = None
    last_role: Role | None = None
    last_speaker: str | None = None
    # The hottest loop of an import (one pass per utterance): locals, not attribute reads.
    for i, (role, speaker, raw) in enumerate(utterances):
        # Stripped first: a turn split from a document ends in a newline, which would
        # keep clean() off its one-line fast path.
        raw = raw.strip()
        text = clean(raw if spoken is None else spoken[i].strip())
        # "[chuckles]." leaves a bare "."; a turn with no letter or digit says nothing.
        if not text or (not text[0].isalnum() and _WORD_CHAR.search(text) is None):
            continue
        if role is last_role and speaker == last_speaker:
            last.text = f"{last.text} {text}"  # type: ignore[union-attr]
            last.raw_text = f"{last.raw_text}\n{raw}"  # type: ignore[union-attr]
            continue
        last = ParsedTurn(role, speaker, text, raw)
        last_role, last_speaker = role, speaker
        turns.append(last)
    return turns
