"""Read-only SQL behind the curation screens: progress, navigation, search, turn state.

Every query here must stay fast on 1,000,000 turns: they read the covering
index ``turns_role_words_transcript`` and the small ``rater_turn_state`` table, never
the decision log or the turn text (search goes through FTS5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import NotFoundError
from core.ids import TranscriptId, TurnId
from core.models import Category
from core.store.chunks import chunks
from core.store.chunks import marks as in_marks
from core.store.connection import Store
from core.models import ExcludeReason, RaterState, Status

# A dict lookup, not Category(value): 13,000 enum calls cost ~30 ms.
_CATEGORIES = {c.value: c for c in Category}

# Around each matched word in SearchHit.snippet; control characters so they
# can never clash with transcript text. A screen escapes the text, then swaps these.
SNIPPET_OPEN = "\x02"
SNIPPET_CLOSE = "\x03"
SNIPPET_ELLIPSIS = "…"
SNIPPET_TOKENS = 12


@dataclass(slots=True)
class TranscriptSummary:
    # Not frozen: the list builds 13,000 of these per refresh and a frozen
    # dataclass's __init__ costs three times as much. Treat it as a value.
    id: TranscriptId
    title: str
    category: Category
    turns: int
    eligible: int  # therapist turns with at least min_words words
    decided: int  # eligible turns with an (effective, or this rater's) include/exclude
    flagged: int  # eligible turns someone (or this rater) flagged

    @property
    def progress(self) -> str:
        return f"{self.decided}/{self.eligible}"

    @property
    def state(self) -> str:
        """One of STATUS_FILTERS' names: unstarted, in_progress or done."""
        if self.decided >= self.eligible:
            return "done"
        return "in_progress" if self.decided else "unstarted"


# status_filter values for transcript_summaries: "todo" is unstarted + in_progress.
STATUS_FILTERS = ("unstarted", "in_progress", "done", "todo", "flagged")


@dataclass(frozen=True, slots=True)
class SearchHit:
    turn_id: TurnId
    transcript_id: TranscriptId
    position: int
    role: str
    snippet: str  # matched words wrapped in SNIPPET_OPEN … SNIPPET_CLOSE


@dataclass(frozen=True, slots=True)
class TurnState:
    """Everything the decision panel shows for one turn."""

    turn_id: TurnId
    transcript_id: TranscriptId
    position: int
    role: str
    word_count: int
    question_marks: int
    rater: str
    # this rater's own decision
    status: Status
    rating: int | None
    reason: ExcludeReason | None
    note: str | None
    flagged: bool
    # every rater together, under the policy in docs/decision-policy.md
    effective_status: Status
    effective_rating: float | None
    effective_flagged: bool
    rater_count: int  # raters with any state on this turn

    @property
    def own(self) -> RaterState:
        return RaterState(self.status, self.rating, self.reason, self.note, self.flagged)


def transcript_summaries(
    store: Store,
    *,
    min_words: int,
    rater: str | None,
    category: Category | None = None,
    status_filter: str | None = None,
) -> list[TranscriptSummary]:
    conn = store.conn
    eligible = dict(
        conn.execute(
            "SELECT transcript_id, count(*) FROM turns INDEXED BY turns_role_words_transcript "
            "WHERE role = 'therapist' AND word_count >= ? GROUP BY transcript_id",
            [min_words],
        )
    )
    # Per turn first (any rater, or the one asked for), then per transcript:
    # rater_turn_state carries word_count, so this never touches the turns table.
    rater_sql, args = ("AND rater = ?", [min_words, rater]) if rater is not None else ("", [min_words])
    decided: dict[int, tuple[int, int]] = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            "SELECT transcript_id, sum(decided), sum(flagged) FROM ("
            "  SELECT transcript_id, max(status != 'unreviewed') AS decided, max(flagged) AS flagged"
            f"  FROM rater_turn_state WHERE word_count >= ? {rater_sql} GROUP BY turn_id"
            ") GROUP BY transcript_id",
            args,
        )
    }
    if category is not None:
        rows = conn.execute(
            "SELECT id, title, category, turn_count FROM transcripts WHERE category = ? ORDER BY id",
            [category.value],
        )
    else:
        rows = conn.execute("SELECT id, title, category, turn_count FROM transcripts ORDER BY id")
    out = []
    none = (0, 0)
    for tid, title, cat, turns in rows:
        n_decided, n_flagged = decided.get(tid, none)
        summary = TranscriptSummary(
            tid, title, _CATEGORIES.get(cat) or Category(cat), turns, eligible.get(tid, 0), n_decided, n_flagged
        )
        if status_filter is None or _matches(summary, status_filter):
            out.append(summary)
    return out


def _matches(summary: TranscriptSummary, status_filter: str) -> bool:
    if status_filter == "todo":
        return summary.decided < summary.eligible
    if status_filter == "flagged":
        return summary.flagged > 0
    return summary.state == status_filter


def eligible_turn_ids(store: Store, *, min_words: int) -> list[tuple[TurnId, TranscriptId]]:
    rows = store.conn.execute(
        "SELECT id, transcript_id FROM turns INDEXED BY turns_role_words_transcript "
        "WHERE role = 'therapist' AND word_count >= ? ORDER BY transcript_id, position",
        [min_words],
    )
    # (int, int) rows are already (TurnId, TranscriptId) at runtime: no per-row wrapping.
    return rows.fetchall()


def search(store: Store, fts_query: str, *, limit: int) -> list[SearchHit]:
    """Hits for an already-escaped FTS5 query, in transcript order.

    Ordered by rowid rather than rank: ranking must score every match (900,000
    of them for a common word), while rowid order stops after ``limit``.
    """
    rows = store.conn.execute(
        "SELECT t.id, t.transcript_id, t.position, t.role, "
        "snippet(turns_fts, 0, ?, ?, ?, ?) "
        "FROM turns_fts JOIN turns t ON t.id = turns_fts.rowid "
        "WHERE turns_fts MATCH ? ORDER BY turns_fts.rowid LIMIT ?",
        [SNIPPET_OPEN, SNIPPET_CLOSE, SNIPPET_ELLIPSIS, SNIPPET_TOKENS, fts_query, limit],
    )
    return [SearchHit(TurnId(a), TranscriptId(b), c, d, e) for a, b, c, d, e in rows]


def turn_states(store: Store, turn_ids: Sequence[TurnId], *, rater: str) -> dict[TurnId, TurnState]:
    """TurnState for each existing turn asked for, in three queries per chunk."""
    conn = store.conn
    out: dict[TurnId, TurnState] = {}
    ids = list(dict.fromkeys(turn_ids))
    for chunk in chunks(ids):
        marks = in_marks(len(chunk))
        turns = conn.execute(
            "SELECT id, transcript_id, position, role, word_count, "
            f"length(text) - length(replace(text, '?', '')) FROM turns WHERE id IN ({marks})",
            chunk,
        ).fetchall()
        states: dict[int, list[tuple]] = {}
        for row in conn.execute(
            "SELECT turn_id, rater, status, rating, reason, note, flagged FROM rater_turn_state "
            f"WHERE turn_id IN ({marks})",
            chunk,
        ):
            states.setdefault(row[0], []).append(row[1:])
        for tid, transcript_id, position, role, words, questions in turns:
            rows = states.get(tid, [])
            own = next((r for r in rows if r[0] == rater), None)
            ratings = [r[2] for r in rows if r[2] is not None]
            out[TurnId(tid)] = TurnState(
                turn_id=TurnId(tid),
                transcript_id=TranscriptId(transcript_id),
                position=position,
                role=role,
                word_count=words,
                question_marks=questions,
                rater=rater,
                status=Status(own[1]) if own else Status.UNREVIEWED,
                rating=own[2] if own else None,
                reason=ExcludeReason(own[3]) if own and own[3] is not None else None,
                note=own[4] if own else None,
                flagged=bool(own[5]) if own else False,
                effective_status=effective_status(r[1] for r in rows),
                effective_rating=sum(ratings) / len(ratings) if ratings else None,
                effective_flagged=any(r[5] for r in rows),
                rater_count=len(rows),
            )
    return out


def effective_status(statuses: Iterable[str]) -> Status:
    """The policy of the turn_effective view, for rows already in memory."""
    seen = set(statuses)
    if Status.EXCLUDED in seen:
        return Status.EXCLUDED
    if Status.INCLUDED in seen:
        return Status.INCLUDED
    return Status.UNREVIEWED


def turn_state(store: Store, turn_id: TurnId, *, rater: str) -> TurnState:
    state = turn_states(store, [turn_id], rater=rater).get(turn_id)
    if state is None:
        raise NotFoundError(f"turn {turn_id} does not exist")
    return state
