"""Offline token estimates and the Vertex AI tuning limits.

Gemini's tokenizer is not available offline (the SDK's local tokenizer
downloads its model on first use), so the count is estimated, on the high side:

    tokens ≈ MARGIN × max(characters / 4, words × 1.3) + 4 per message

``characters / 4`` is the usual figure for English with SentencePiece
tokenizers and ``words × 1.3`` catches text with many short words; taking the
larger and adding 10 % plus a per-message overhead errs towards flagging an
example that would have fitted rather than shipping one that is dropped
server-side. Limits are from ``/work/shared/reference/gemini-notes.md`` §2.2
(Gemini 2.5 Flash / Flash-Lite supervised tuning).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MAX_TOKENS_PER_EXAMPLE = 131_072
MAX_VALIDATION_EXAMPLES = 5_000
MAX_FILE_BYTES = 1024**3  # 1 GB per JSONL file

CHARS_PER_TOKEN = 4
TOKENS_PER_WORD = 1.3
MARGIN = 1.10
TOKENS_PER_MESSAGE = 4


def estimate(*, chars: int, words: int, messages: int) -> int:
    """Estimated tokens of one example from its totals (system instruction included)."""
    body = max(chars / CHARS_PER_TOKEN, words * TOKENS_PER_WORD)
    return math.ceil(MARGIN * body) + TOKENS_PER_MESSAGE * messages


def estimate_tokens(texts: Iterable[str]) -> int:
    """Estimated tokens of one example given every message's text."""
    texts = list(texts)
    return estimate(chars=sum(len(t) for t in texts), words=sum(len(t.split()) for t in texts),
                    messages=len(texts))
