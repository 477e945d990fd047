"""SQL for the append-only decision log and the per-rater state derived from it.

The log (``decision_batches`` + ``decisions``) is only ever appended to; the
one table that is rewritten, ``rater_turn_state``, is a cache of "the last
row per (turn, rater)" kept in step inside the same transaction. The undo and
redo logic lives in ``core.curation``; this module only reads and appends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from core.clock import now_iso_ms as now_utc  # noqa: F401 - core.curation stamps a batch with it
from core.errors import NotFoundError
from core.ids import DecisionId, TranscriptId, TurnId
from core.models import DecisionRecord, ExcludeReason, RaterState, RedactionRecord, Status  # noqa: F401 - re-exported
from core.store.chunks import rows_in
from core.store.connection import Store


@dataclass(frozen=True, slots=True)
class TurnRef:
    turn_id: TurnId
    transcript_id: TranscriptId
    role: str
    position: int


@dataclass(frozen=True, slots=True)
class BatchInfo:
    batch: int
    rater: str
    kind: str  # do | undo | redo
    label: str
    target: int | None
    below: int | None
    undo_top: int | None
    redo_top: int | None
    at: str


_DECISION_COLUMNS = (
    "id, batch, turn_id, transcript_id, rater, action, status, rating, reason, note, "
    "flagged, category, prev_category, at"
)
_BATCH_COLUMNS = "batch, rater, kind, label, target, below, undo_top, redo_top, at"


def _record(row: tuple) -> DecisionRecord:
    return DecisionRecord(
        id=DecisionId(row[0]),
        batch=row[1],
        turn_id=TurnId(row[2]) if row[2] is not None else None,
        transcript_id=TranscriptId(row[3]),
        rater=row[4],
        action=row[5],
        status=Status(row[6]) if row[6] is not None else None,
        rating=row[7],
        reason=ExcludeReason(row[8]) if row[8] is not None else None,
        note=row[9],
        flagged=bool(row[10]) if row[10] is not None else None,
        category=row[11],
        prev_category=row[12],
        at=row[13],
    )


# Reading ######################################################################


def turn_refs(store: Store, turn_ids: Sequence[TurnId]) -> dict[TurnId, TurnRef]:
    """The turns asked for, by id; raises NotFoundError naming the first missing one."""
    found: dict[TurnId, TurnRef] = {}
    for tid, transcript_id, role, position in rows_in(
        store.conn, "SELECT id, transcript_id, role, position FROM turns WHERE id IN ({marks})", turn_ids
    ):
        found[TurnId(tid)] = TurnRef(TurnId(tid), TranscriptId(transcript_id), role, position)
    for tid in turn_ids:
        if tid not in found:
            raise NotFoundError(f"turn {tid} does not exist")
    return found


def transcript_categories(
    store: Store, transcript_ids: Sequence[TranscriptId]
) -> dict[TranscriptId, str]:
    found: dict[TranscriptId, str] = {}
    for tid, category in rows_in(
        store.conn, "SELECT id, category FROM transcripts WHERE id IN ({marks})", transcript_ids
    ):
        found[TranscriptId(tid)] = category
    for tid in transcript_ids:
        if tid not in found:
            raise NotFoundError(f"transcript {tid} does not exist")
    return found


def rater_state(store: Store, turn_id: TurnId, rater: str) -> RaterState:
    row = store.conn.execute(
        "SELECT status, rating, reason, note, flagged FROM rater_turn_state "
        "WHERE turn_id = ? AND rater = ?",
        [turn_id, rater],
    ).fetchone()
    if row is None:
        return RaterState()
    return RaterState(
        status=Status(row[0]),
        rating=row[1],
        reason=ExcludeReason(row[2]) if row[2] is not None else None,
        note=row[3],
        flagged=bool(row[4]),
    )


def state_before(store: Store, turn_id: TurnId, rater: str, before_id: int) -> RaterState:
    """The rater's state of the turn just before log row ``before_id``."""
    row = store.conn.execute(
        f"SELECT {_DECISION_COLUMNS} FROM decisions "
        "WHERE turn_id = ? AND rater = ? AND id < ? ORDER BY id DESC LIMIT 1",
        [turn_id, rater, before_id],
    ).fetchone()
    return _record(row).state() if row else RaterState()


def latest_batch(store: Store, rater: str) -> BatchInfo | None:
    row = store.conn.execute(
        f"SELECT {_BATCH_COLUMNS} FROM decision_batches WHERE rater = ? ORDER BY batch DESC LIMIT 1",
        [rater],
    ).fetchone()
    return BatchInfo(*row) if row else None


def get_batch(store: Store, batch: int) -> BatchInfo:
    row = store.conn.execute(
        f"SELECT {_BATCH_COLUMNS} FROM decision_batches WHERE batch = ?", [batch]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"decision step {batch} does not exist")
    return BatchInfo(*row)


def batch_label(store: Store, batch: int | None) -> str | None:
    if batch is None:
        return None
    row = store.conn.execute("SELECT label FROM decision_batches WHERE batch = ?", [batch]).fetchone()
    return row[0] if row else None


def batch_rows(store: Store, batch: int) -> list[DecisionRecord]:
    rows = store.conn.execute(
        f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE batch = ? ORDER BY id", [batch]
    )
    return [_record(r) for r in rows]


def turn_history(store: Store, turn_id: TurnId) -> list[DecisionRecord]:
    rows = store.conn.execute(
        f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE turn_id = ? ORDER BY id", [turn_id]
    )
    return [_record(r) for r in rows]


def iter_log(store: Store) -> Iterator[DecisionRecord]:
    for row in store.conn.execute(f"SELECT {_DECISION_COLUMNS} FROM decisions ORDER BY id"):
        yield _record(row)


def rater_names(store: Store) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT DISTINCT rater FROM decision_batches")]


# Appending (the caller owns the transaction) #################################


def append_batch(
    store: Store,
    *,
    rater: str,
    kind: str,
    label: str,
    target: int | None,
    below: int | None,
    undo_top: int | None,
    redo_top: int | None,
    at: str,
    batch: int,
) -> None:
    store.conn.execute(
        f"INSERT INTO decision_batches ({_BATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [batch, rater, kind, label, target, below, undo_top, redo_top, at],
    )


def next_batch(store: Store) -> int:
    # Safe under BEGIN IMMEDIATE: no other writer can take the same number.
    return store.conn.execute("SELECT coalesce(max(batch), 0) + 1 FROM decision_batches").fetchone()[0]


def append_turn_rows(
    store: Store,
    *,
    batch: int,
    rater: str,
    action: str,
    rows: Iterable[tuple[TurnRef, RaterState]],
    at: str,
) -> list[DecisionId]:
    """Append one log row per turn and bring ``rater_turn_state`` in step."""
    conn = store.conn
    ids: list[DecisionId] = []
    for ref, state in rows:
        reason = state.reason.value if state.reason is not None else None
        cur = conn.execute(
            "INSERT INTO decisions (batch, rater, action, turn_id, transcript_id, status, rating, "
            "reason, note, flagged, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [batch, rater, action, ref.turn_id, ref.transcript_id, state.status.value,
             state.rating, reason, state.note, int(state.flagged), at],
        )
        ids.append(DecisionId(cur.lastrowid))
        if state.is_blank():
            # No row means unreviewed to every reader of turn_effective.
            conn.execute(
                "DELETE FROM rater_turn_state WHERE turn_id = ? AND rater = ?", [ref.turn_id, rater]
            )
        else:
            conn.execute(
                "INSERT INTO rater_turn_state (turn_id, rater, transcript_id, status, rating, "
                "reason, note, flagged, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (turn_id, rater) DO UPDATE SET status = excluded.status, "
                "rating = excluded.rating, reason = excluded.reason, note = excluded.note, "
                "flagged = excluded.flagged, updated_at = excluded.updated_at",
                [ref.turn_id, rater, ref.transcript_id, state.status.value, state.rating,
                 reason, state.note, int(state.flagged), at],
            )
    return ids


def append_category_rows(
    store: Store,
    *,
    batch: int,
    rater: str,
    action: str,
    rows: Iterable[tuple[TranscriptId, str, str]],
    at: str,
) -> list[DecisionId]:
    """Log (transcript, new category, previous category) rows and apply them."""
    conn = store.conn
    ids: list[DecisionId] = []
    for transcript_id, category, prev in rows:
        cur = conn.execute(
            "INSERT INTO decisions (batch, rater, action, transcript_id, category, prev_category, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [batch, rater, action, transcript_id, category, prev, at],
        )
        ids.append(DecisionId(cur.lastrowid))
        conn.execute("UPDATE transcripts SET category = ? WHERE id = ?", [category, transcript_id])
    return ids


# Redactions (migration 0006) ##################################################


@dataclass(frozen=True, slots=True)
class Span:
    """A redacted span of a turn's text: ``text[start:end]`` (Python string offsets)."""

    turn_id: TurnId
    rater: str
    start: int
    end: int
    reason: str


_REDACTION_COLUMNS = "id, batch, rater, action, turn_id, transcript_id, start_char, end_char, reason, active, at"


def _redaction(row: tuple) -> RedactionRecord:
    return RedactionRecord(row[0], row[1], row[2], row[3], TurnId(row[4]), TranscriptId(row[5]),
                           row[6], row[7], row[8], bool(row[9]), row[10])


def turn_text(store: Store, turn_id: TurnId) -> str:
    row = store.conn.execute("SELECT text FROM turns WHERE id = ?", [turn_id]).fetchone()
    if row is None:
        raise NotFoundError(f"turn {turn_id} does not exist")
    return row[0]


def span_active(store: Store, turn_id: TurnId, rater: str, start: int, end: int) -> bool:
    return store.conn.execute(
        "SELECT 1 FROM redacted_spans WHERE turn_id = ? AND rater = ? AND start_char = ? AND end_char = ?",
        [turn_id, rater, start, end],
    ).fetchone() is not None


def span_active_before(store: Store, turn_id: TurnId, rater: str, start: int, end: int, before_id: int) -> bool:
    """Whether the rater's span was redacted just before redaction log row ``before_id``."""
    row = store.conn.execute(
        "SELECT active FROM redactions WHERE turn_id = ? AND rater = ? AND start_char = ? AND end_char = ? "
        "AND id < ? ORDER BY id DESC LIMIT 1",
        [turn_id, rater, start, end, before_id],
    ).fetchone()
    return bool(row[0]) if row else False


def batch_redactions(store: Store, batch: int) -> list[RedactionRecord]:
    rows = store.conn.execute(f"SELECT {_REDACTION_COLUMNS} FROM redactions WHERE batch = ? ORDER BY id", [batch])
    return [_redaction(r) for r in rows]


def redaction_history(store: Store, turn_id: TurnId) -> list[RedactionRecord]:
    rows = store.conn.execute(
        f"SELECT {_REDACTION_COLUMNS} FROM redactions WHERE turn_id = ? ORDER BY id", [turn_id]
    )
    return [_redaction(r) for r in rows]


def iter_redaction_log(store: Store) -> Iterator[RedactionRecord]:
    for row in store.conn.execute(f"SELECT {_REDACTION_COLUMNS} FROM redactions ORDER BY id"):
        yield _redaction(row)


def append_redaction_rows(
    store: Store,
    *,
    batch: int,
    rater: str,
    action: str,
    rows: Iterable[tuple[TurnRef, int, int, str, bool]],
    at: str,
) -> None:
    """Log (turn, start, end, reason, active) rows and bring ``redacted_spans`` in step."""
    conn = store.conn
    for ref, start, end, reason, active in rows:
        conn.execute(
            "INSERT INTO redactions (batch, rater, action, turn_id, transcript_id, start_char, end_char, "
            "reason, active, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [batch, rater, action, ref.turn_id, ref.transcript_id, start, end, reason, int(active), at],
        )
        if active:
            conn.execute(
                "INSERT OR REPLACE INTO redacted_spans (turn_id, rater, start_char, end_char, transcript_id, "
                "reason) VALUES (?, ?, ?, ?, ?, ?)",
                [ref.turn_id, rater, start, end, ref.transcript_id, reason],
            )
        else:
            conn.execute(
                "DELETE FROM redacted_spans WHERE turn_id = ? AND rater = ? AND start_char = ? AND end_char = ?",
                [ref.turn_id, rater, start, end],
            )


def spans_of(store: Store, turn_ids: Sequence[TurnId]) -> list[Span]:
    """Every rater's redacted spans in the given turns, by turn then offset."""
    out = [
        Span(TurnId(r[0]), r[1], r[2], r[3], r[4])
        for r in rows_in(
            store.conn,
            "SELECT turn_id, rater, start_char, end_char, reason FROM redacted_spans WHERE turn_id IN ({marks})",
            dict.fromkeys(turn_ids),
        )
    ]
    out.sort(key=lambda s: (s.turn_id, s.start, s.end, s.rater))
    return out


# What must never leave the workspace (read in one pass by the dataset builder) #


def excluded_turn_reasons(store: Store) -> dict[TurnId, list[str]]:
    """Every turn some rater excluded (any role) → the reasons given, one per rater.

    The whole ``rater_turn_state`` table is small next to ``turns`` (one row per
    decided turn and rater); one read serves a whole build.
    """
    out: dict[TurnId, list[str]] = {}
    for turn_id, reason in store.conn.execute(
        "SELECT turn_id, reason FROM rater_turn_state WHERE status = 'excluded'"
    ):
        out.setdefault(turn_id, []).append(reason or ExcludeReason.OTHER.value)
    return out


def all_redacted_spans(store: Store) -> dict[TurnId, list[tuple[int, int]]]:
    """Every turn with a redaction (any rater) → its spans (start, end), unsorted, possibly overlapping."""
    out: dict[TurnId, list[tuple[int, int]]] = {}
    for turn_id, start, end in store.conn.execute("SELECT turn_id, start_char, end_char FROM redacted_spans"):
        out.setdefault(turn_id, []).append((start, end))
    return out
