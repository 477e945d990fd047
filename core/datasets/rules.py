"""The rules that turn curated transcripts into a dataset, with the paper's defaults.

Every rule is stored with the dataset it produced (``to_dict``), so a dataset
can always say exactly how it was made and be built again from the same store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from core.errors import UsageError

DEFAULT_SYSTEM_INSTRUCTION = (
    "You are an experienced, warm and evidence-based therapist. Reply to the client's last "
    "message as you would in session: listen, reflect what you heard, and respond with care."
)

OVER_LIMIT_ACTIONS = ("drop", "flag")


@dataclass(frozen=True, slots=True)
class DatasetRules:
    """How targets, contexts and splits are chosen.

    ``min_words``: a target is a therapist turn of at least this many words (the
    paper's rule is 50). ``context_turns`` / ``context_chars``: the context is at
    most this many (merged) turns and characters, cut only at turn boundaries.
    ``min_rating``: rated targets below it are left out; unrated ones are kept.
    ``reviewed_only``: keep only targets a rater included. ``split``: train /
    validation / test percentages. ``freeze_test``: later datasets reuse this
    dataset's test split. ``over_limit``: ``drop`` or ``flag`` examples over the
    tuning service's token limit.
    """

    min_words: int = 50
    context_turns: int = 8
    context_chars: int = 24_000
    min_rating: float | None = None
    reviewed_only: bool = False
    seed: int = 0
    split: tuple[int, int, int] = (80, 10, 10)
    system_instruction: str = DEFAULT_SYSTEM_INSTRUCTION
    freeze_test: bool = False
    over_limit: str = "drop"

    def validate(self) -> DatasetRules:
        """Raise ``UsageError`` naming the first bad rule; return self for chaining."""
        if self.min_words < 1:
            raise UsageError(f"min_words: must be at least 1 (got {self.min_words})")
        if self.context_turns < 1:
            raise UsageError(f"context_turns: must be at least 1 (got {self.context_turns})")
        if self.context_chars < 1:
            raise UsageError(f"context_chars: must be at least 1 (got {self.context_chars})")
        if self.min_rating is not None and not 1 <= self.min_rating <= 5:
            raise UsageError(f"min_rating: must be between 1 and 5 (got {self.min_rating})")
        if len(self.split) != 3 or any(p < 0 for p in self.split) or sum(self.split) != 100:
            raise UsageError(f"split: three percentages adding up to 100 (got {format_split(self.split)})")
        if self.split[0] == 0:
            raise UsageError("split: the train share must be above 0")
        if self.over_limit not in OVER_LIMIT_ACTIONS:
            raise UsageError(f"over_limit: one of {', '.join(OVER_LIMIT_ACTIONS)} (got {self.over_limit!r})")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"seed: must be between 0 and 2^63-1 (got {self.seed})")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["split"] = list(self.split)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetRules:
        """Rules as stored; keys this version does not know are ignored, missing ones default."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "split" in values:
            values["split"] = tuple(int(p) for p in values["split"])
        return cls(**values)


def parse_split(text: str) -> tuple[int, int, int]:
    """``"80/10/10"`` → ``(80, 10, 10)``; raises UsageError with the reason."""
    parts = text.replace(",", "/").replace(":", "/").split("/")
    try:
        values = tuple(int(p.strip()) for p in parts)
    except ValueError:
        raise UsageError(f"--split: expected TRAIN/VALIDATION/TEST percentages like 80/10/10 (got {text!r})") from None
    if len(values) != 3:
        raise UsageError(f"--split: expected three percentages like 80/10/10 (got {text!r})")
    if any(v < 0 for v in values) or sum(values) != 100:
        raise UsageError(f"--split: the percentages must be non-negative and add up to 100 (got {text!r})")
    return values  # type: ignore[return-value]


def format_split(split: tuple[int, ...]) -> str:
    return "/".join(str(p) for p in split)
