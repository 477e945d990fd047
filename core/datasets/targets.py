"""Which therapist turns become targets, and the conversation each one answers.

Selection (the decision policy comes from the curation area's ``turn_effective``
view; turns missing from it are unreviewed):

1. a therapist turn of at least ``min_words`` words;
2. not excluded;
3. if rated, rated at least ``min_rating`` (unrated turns are kept);
4. with ``reviewed_only``, only turns a rater included;
5. it must answer a client: the nearest earlier turn that is not ``other`` is a
   client turn. A therapist turn that follows another therapist turn, or opens
   the session, has nothing in the context to reply to, so it is left out
   (and counted) rather than given a context that skips what was said.

Context (oldest first, cut only at turn boundaries):

- ``other`` turns (interpreters, family members, unknown speakers) are dropped:
  neither the ``user`` nor the ``model`` role fits them;
- consecutive turns of one role, once ``other`` turns are gone, are merged into
  one message joined by a newline, so roles strictly alternate;
- at most ``context_turns`` of these merged turns are kept, then the oldest one
  is dropped if it is a therapist turn, so the context starts and ends on a
  client turn (it therefore holds an odd number of messages);
- then the oldest client+therapist pairs are dropped while the context is over
  ``context_chars`` characters; the last client turn is always kept, because a
  target needs something to answer (the token-limit check catches the rare
  single turn that is too long).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

from core.datasets.rules import DatasetRules
from core.ids import TurnId
from core.store.datasets import CandidateRow

if TYPE_CHECKING:
    from core.datasets.withheld import Withheld

# Raw turns read before a target when building its context; merging and
# dropping ``other`` turns mean a few more than ``context_turns`` may be needed.
WINDOW_FACTOR = 1
WINDOW_EXTRA = 6

REMOVAL_REASONS = {
    "excluded": "excluded by a rater",
    "below_rating": "rated below the minimum",
    "unreviewed": "not reviewed (reviewed-only)",
    "no_client_turn": "does not follow a client turn",
}


class Message(NamedTuple):
    """One context message: a run of same-role turns, merged."""

    role: str  # client | therapist
    text: str
    turn_ids: tuple[TurnId, ...]
    words: int = 0  # sum of the turns' word counts (whitespace words, as stored)


@dataclass(slots=True)
class Selection:
    targets: list[CandidateRow]
    removed: dict[str, int]  # reason key → count, see REMOVAL_REASONS
    candidates: int  # therapist turns long enough, before any other rule
    unreviewed_targets: int
    flagged_targets: int


def select_targets(candidates: Iterable[CandidateRow], rules: DatasetRules) -> Selection:
    """Apply the selection rules in order; each removed turn is counted once, under its first reason."""
    removed = dict.fromkeys(REMOVAL_REASONS, 0)
    kept: list[CandidateRow] = []
    total = 0
    for c in candidates:
        total += 1
        if c.words < rules.min_words:
            continue
        if c.status == "excluded":
            removed["excluded"] += 1
        elif rules.min_rating is not None and c.rating is not None and c.rating < rules.min_rating:
            removed["below_rating"] += 1
        elif rules.reviewed_only and c.status != "included":
            removed["unreviewed"] += 1
        elif c.prev_role != "client":
            removed["no_client_turn"] += 1
        else:
            kept.append(c)
    return Selection(
        targets=kept,
        removed=removed,
        candidates=total,
        unreviewed_targets=sum(1 for c in kept if c.status == "unreviewed"),
        flagged_targets=sum(1 for c in kept if c.flagged),
    )


def merge_turns(turns: Iterable[tuple[TurnId, str, str, int]]) -> list[Message]:
    """(turn id, role, text, words) oldest first → alternating messages, ``other`` dropped."""
    runs: list[tuple[str, list[str], list[TurnId], list[int]]] = []
    for turn_id, role, text, words in turns:
        if role == "other":
            continue
        if runs and runs[-1][0] == role:
            runs[-1][1].append(text)
            runs[-1][2].append(turn_id)
            runs[-1][3].append(words)
        else:
            runs.append((role, [text], [turn_id], [words]))
    return [
        Message(role, texts[0], (ids[0],), words[0]) if len(texts) == 1
        else Message(role, "\n".join(texts), tuple(ids), sum(words))
        for role, texts, ids, words in runs
    ]


def _last_messages(
    turns: list[tuple[TurnId, str, str, int]],
    first: int,
    last: int,
    limit: int,
    excluded: Mapping[TurnId, str] | None = None,
) -> tuple[list[Message], str | None]:
    """``merge_turns(turns[first:last])[-limit:]``, reading backwards only as far as needed.

    Reading stops at a turn in ``excluded`` that the context would hold (the
    context starts after it); the second value is its reason, else None.
    """
    runs: list[tuple[str, list[str], list[TurnId], list[int]]] = []  # newest first
    cut = None
    for i in range(last - 1, first - 1, -1):
        turn_id, role, text, words = turns[i]
        if role == "other":
            continue
        if runs and runs[-1][0] == role:
            if excluded and turn_id in excluded:
                cut = excluded[turn_id]
                break
            runs[-1][1].append(text)
            runs[-1][2].append(turn_id)
            runs[-1][3].append(words)
        elif len(runs) == limit:
            break
        elif excluded and turn_id in excluded:
            cut = excluded[turn_id]
            break
        else:
            runs.append((role, [text], [turn_id], [words]))
    out = []
    for role, texts, ids, words in reversed(runs):
        if len(texts) == 1:  # the common case, without the joins
            out.append(Message(role, texts[0], (ids[0],), words[0]))
        else:
            out.append(Message(role, "\n".join(reversed(texts)), tuple(reversed(ids)), sum(words)))
    return out, cut


def trim_context(messages: list[Message], rules: DatasetRules) -> tuple[Message, ...] | None:
    """Cut merged messages to the rules; None when they do not end on a client turn."""
    if not messages or messages[-1].role != "client":
        return None
    kept = messages[-rules.context_turns :]
    if kept[0].role != "client":
        kept = kept[1:]
    chars = sum(len(m.text) for m in kept)
    start = 0
    while chars > rules.context_chars and len(kept) - start > 1:
        chars -= len(kept[start].text) + len(kept[start + 1].text)
        start += 2
    return tuple(kept[start:])


def context_windows(targets: Iterable[CandidateRow], rules: DatasetRules) -> list[tuple[int, int, int]]:
    """Non-overlapping (transcript, first position, last position) ranges covering every target's window."""
    width = rules.context_turns * WINDOW_FACTOR + WINDOW_EXTRA
    spans = sorted((t.transcript_id, max(0, t.position - width), t.position - 1) for t in targets)
    merged: list[tuple[int, int, int]] = []
    for tid, lo, hi in spans:
        if hi < lo:
            continue
        if merged and merged[-1][0] == tid and lo <= merged[-1][2] + 1:
            if hi > merged[-1][2]:
                merged[-1] = (tid, merged[-1][1], hi)
        else:
            merged.append((tid, lo, hi))
    return merged


def build_contexts(
    targets: list[CandidateRow],
    window_turns: Iterator[tuple[int, int, int, str, str, int]],
    rules: DatasetRules,
    withheld: Withheld | None = None,
    read: dict[TurnId, tuple[int, int, int, str, str, int]] | None = None,
) -> Iterator[tuple[CandidateRow, tuple[Message, ...] | None, str | None]]:
    """Pair each target with its context, and the exclusion reason that cut it (else None).

    ``window_turns`` are the turns of ``context_windows(targets)``, ordered by
    transcript and position (one sequential read instead of a query per target).
    ``withheld``: excluded turns cut the context (it starts after the latest
    one it would hold); redacted spans read ``[redacted]``. A context cut so
    that no client turn comes right before the target is None.
    Yields in (transcript, position) order. ``read``, when given, receives every
    window turn as read (its text unredacted), by id.
    """
    excluded = withheld.excluded if withheld is not None else None
    spans = withheld.spans if withheld is not None else {}
    width = rules.context_turns * WINDOW_FACTOR + WINDOW_EXTRA
    by_place = sorted(targets, key=lambda t: (t.transcript_id, t.position))
    current_tid: int | None = None
    positions: list[int] = []  # of the current transcript's window turns, ascending
    turns: list[tuple[TurnId, str, str, int]] = []  # (id, role, text, words), parallel to positions
    done_tid: int | None = None  # the last transcript whose window turns were taken
    pending = next(window_turns, None)
    for target in by_place:
        if target.transcript_id != current_tid:
            current_tid = target.transcript_id
            positions, turns = [], []
            while pending is not None and pending[1] < current_tid:
                if done_tid is not None and pending[1] <= done_tid:
                    raise WindowOrderError(f"turn {pending[0]} came after transcript {done_tid}'s turns")
                pending = next(window_turns, None)
            prev_position = -(2**63)
            while pending is not None and pending[1] == current_tid:
                # one pass per window turn (hundreds of thousands at 1M turns): ids stay plain
                # ints (TurnId is a NewType, the same at runtime) and nothing is called twice
                turn_id, _, position, role, text, words = pending
                if position <= prev_position:
                    raise WindowOrderError(f"turn {turn_id} came after a later turn of its transcript")
                prev_position = position
                if read is not None:
                    read[turn_id] = pending
                positions.append(position)
                if turn_id in spans:
                    text = withheld.text(turn_id, text)  # type: ignore[union-attr]
                turns.append((turn_id, role, text, words))
                pending = next(window_turns, None)
            done_tid = current_tid
        first = bisect_left(positions, max(0, target.position - width))
        last = bisect_left(positions, target.position)
        messages, cut = _last_messages(turns, first, last, rules.context_turns, excluded)
        yield target, trim_context(messages, rules), cut
    while pending is not None:
        if done_tid is not None and pending[1] <= done_tid:
            raise WindowOrderError(f"turn {pending[0]} came after transcript {done_tid}'s turns")
        pending = next(window_turns, None)


class WindowOrderError(ValueError):
    """Window turns did not come in (transcript, position) order (internal)."""


def contexts_in_order(
    targets: list[CandidateRow],
    window_turns: list[tuple[int, int, int, str, str, int]],
    rules: DatasetRules,
    withheld: Withheld | None = None,
    read: dict[TurnId, tuple[int, int, int, str, str, int]] | None = None,
) -> list[tuple[CandidateRow, tuple[Message, ...] | None, str | None]]:
    """``build_contexts`` over rows a query returned without ORDER BY.

    They are in order in practice; ``build_contexts`` checks as it goes (a
    comparison per row) and, should they not be, they are sorted and the
    contexts built again, never built from rows out of order.
    """
    try:
        return list(build_contexts(targets, iter(window_turns), rules, withheld, read))
    except WindowOrderError:
        window_turns = sorted(window_turns, key=itemgetter(1, 2))
        if read is not None:
            read.clear()
        return list(build_contexts(targets, iter(window_turns), rules, withheld, read))
