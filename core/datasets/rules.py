"""The rules that turn curated transcripts into a dataset, with the paper's defaults.

Every rule is stored with the dataset it produced (``to_dict``), so a dataset
can always say exactly how it was made and be built again from the same store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from core.errors import UsageError
from core.ids import TranscriptId

DEFAULT_SYSTEM_INSTRUCTION = (
    "You are an experienced, warm and evidence-based therapist. Reply to the client's last "
    "message as you would in session: listen, reflect what you heard, and respond with care."
)

OVER_LIMIT_ACTIONS = ("drop", "flag")

# Visible defaults, stored with every dataset and written in DATASET.md:
# AnnoMI's low-quality sessions deliberately show poor counselling, and a turn
# a clinician rated 1 or 2 ("poor") is not something a model should learn.
DEFAULT_SESSION_RULES = ("mi_quality != low",)
DEFAULT_MIN_RATING = 3.0
_OPERATORS = ("!=", ">=", "<=", "=", ">", "<")
_CONDITION = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$")


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
    tuning service's token limit. ``include_demo``: demonstration transcripts
    (metadata ``demo: true``) are left out unless this is set. ``session_rules``:
    conditions on a transcript's stored metadata (``key OP value``, OP one of
    ``= != >= <= > <``) that every session must meet; by default AnnoMI's
    low-quality sessions are left out.
    """

    min_words: int = 50
    context_turns: int = 8
    context_chars: int = 24_000
    min_rating: float | None = DEFAULT_MIN_RATING
    reviewed_only: bool = False
    seed: int = 0
    split: tuple[int, int, int] = (80, 10, 10)
    system_instruction: str = DEFAULT_SYSTEM_INSTRUCTION
    freeze_test: bool = False
    over_limit: str = "drop"
    include_demo: bool = False
    session_rules: tuple[str, ...] = DEFAULT_SESSION_RULES
    # Vertex AI has no per-turn loss weight: "transcript" puts the context into
    # one labelled user message so only the target is trained on;
    # "multi_turn" keeps alternating turns (every therapist turn is trained on).
    vertex_form: str = "transcript"

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
        for rule in self.session_rules:
            parse_condition(rule)
        if self.vertex_form not in ("transcript", "multi_turn"):
            raise UsageError(f"vertex_form: one of transcript, multi_turn (got {self.vertex_form!r})")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["split"] = list(self.split)
        out["session_rules"] = list(self.session_rules)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetRules:
        """Rules as stored; keys this version does not know are ignored, missing ones default."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if data and "session_rules" not in values:
            # built before demo tagging and session rules existed: nothing was left out for them
            values.setdefault("include_demo", True)
            values["session_rules"] = ()
        if "split" in values:
            values["split"] = tuple(int(p) for p in values["split"])
        if "session_rules" in values:
            values["session_rules"] = tuple(values["session_rules"])
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


# Session rules ################################################################


@dataclass(frozen=True, slots=True)
class Condition:
    """``key OP value`` on a transcript's metadata; see ``matches``."""

    key: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.value}"

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a session meets the condition.

        Values compare as numbers when both sides are numbers, otherwise as
        case-folded text (orderings need numbers ; JSON ``true``/``false`` as ``true``/``false``). A
        session without the key meets only ``!=`` (it is not "low" if it has no
        quality at all), so a rule never silently drops every session of a
        source that does not record that key.
        """
        if self.key not in metadata or metadata[self.key] is None:
            return self.op == "!="
        have = metadata[self.key]
        left, right = _number(have), _number(self.value)
        if left is not None and right is not None:
            a: Any = left
            b: Any = right
        else:
            a, b = _text(have), self.value.casefold()
        if self.op == "=":
            return a == b
        if self.op == "!=":
            return a != b
        if not isinstance(a, float):
            return False  # an ordering needs two numbers: "many" is not >= 2
        return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[self.op]


def parse_condition(text: str) -> Condition:
    """``"mi_quality != low"`` → Condition; UsageError naming the rule when malformed."""
    m = _CONDITION.match(text)
    if not m or not m.group(3):
        raise UsageError(
            f"session rule {text!r}: expected KEY OP VALUE with OP one of {' '.join(_OPERATORS)} "
            "(e.g. 'mi_quality != low', 'upvotes >= 2')"
        )
    return Condition(m.group(1), m.group(2), m.group(3))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def is_demo(metadata: Mapping[str, Any]) -> bool:
    return metadata.get("demo") is True


@dataclass(frozen=True, slots=True)
class SessionVerdicts:
    """Transcripts the session rules leave out, and why."""

    demo: frozenset[TranscriptId]
    by_rule: dict[str, frozenset[TranscriptId]]  # rule text → transcripts it leaves out (first failing rule)

    @property
    def left_out(self) -> frozenset[TranscriptId]:
        out = set(self.demo)
        for ids in self.by_rule.values():
            out |= ids
        return frozenset(out)


def judge_sessions(
    rules: DatasetRules, metadata: Iterable[tuple[TranscriptId, Mapping[str, Any]]]
) -> SessionVerdicts:
    """Each transcript is left out under its first reason: demo first, then the rules in order."""
    conditions = [parse_condition(r) for r in rules.session_rules]
    demo: set[TranscriptId] = set()
    by_rule: dict[str, set[TranscriptId]] = {str(c): set() for c in conditions}
    for tid, meta in metadata:
        if not rules.include_demo and is_demo(meta):
            demo.add(tid)
            continue
        for c in conditions:
            if not c.matches(meta):
                by_rule[str(c)].add(tid)
                break
    return SessionVerdicts(frozenset(demo), {k: frozenset(v) for k, v in by_rule.items()})
