"""What a clinician withheld: excluded turns and redacted spans, applied to text.

Below ``targets`` (which cuts contexts at excluded turns) and ``items`` (which
loads it from the store), so neither imports the other to name it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.ids import TurnId

REDACTED = "[redacted]"


def redact_text(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with every span replaced by ``[redacted]``; overlapping or touching spans merge.

    Offsets past the end (the text was edited since) are clamped: a redaction
    never lets the words it covered through.
    """
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        start, end = max(0, start), min(len(text), end)
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        return text
    out, pos = [], 0
    for start, end in merged:
        out += [text[pos:start], REDACTED]
        pos = end
    out.append(text[pos:])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Withheld:
    """What must not leave the workspace, under the decision policy (any rater's word holds)."""

    excluded: Mapping[TurnId, str] = field(default_factory=dict)  # turn → exclusion reason
    spans: Mapping[TurnId, Sequence[tuple[int, int]]] = field(default_factory=dict)

    def text(self, turn_id: TurnId, text: str) -> str:
        spans = self.spans.get(turn_id)
        return redact_text(text, spans) if spans else text
