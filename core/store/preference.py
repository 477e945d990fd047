"""SQL for blinded A/B preference sessions (tables from migration 0011).

The side→system mapping is read here and handed only to
``core.preference``; the rows a rater may see (``RaterItem``) carry no system.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import NotFoundError
from core.store.connection import Store
from core.store.transcripts import now_iso

CHOICES = ("a", "b", "t", "z", "s")


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    token: str
    dataset_id: int | None
    dataset_name: str
    seed: int
    systems: tuple[str, ...]
    raters: tuple[str, ...]
    settings: dict[str, Any]
    state: str  # open | locked
    created_at: str
    locked_at: str | None


@dataclass(frozen=True, slots=True)
class Assignment:
    """One pair shown to one rater: holds the blinding map, never leaves core."""

    id: int
    rater: str
    position: int
    example_id: str
    left_system: str
    right_system: str
    item_key: str
    repeat_of: int | None


@dataclass(frozen=True, slots=True)
class NewAssignment:
    rater: str
    position: int
    example_id: str
    left_system: str
    right_system: str
    item_key: str
    repeat_of_position: int | None  # position (same rater) of the first showing


@dataclass(frozen=True, slots=True)
class CurrentVote:
    assignment_id: int
    choice: str
    comment: str
    source: str
    at: str


_SESSION_COLUMNS = "id, token, dataset_id, dataset_name, seed, systems, raters, settings, state, created_at, locked_at"
_ASSIGNMENT_COLUMNS = "id, rater, position, example_id, left_system, right_system, item_key, repeat_of"


def _session(row: tuple) -> SessionRecord:
    return SessionRecord(
        id=row[0], token=row[1], dataset_id=row[2], dataset_name=row[3], seed=row[4],
        systems=tuple(json.loads(row[5])), raters=tuple(json.loads(row[6])), settings=json.loads(row[7]),
        state=row[8], created_at=row[9], locked_at=row[10],
    )


def _assignment(row: tuple) -> Assignment:
    return Assignment(*row)


# Sessions #####################################################################


def insert_session(
    store: Store,
    *,
    token: str,
    dataset_id: int,
    dataset_name: str,
    seed: int,
    systems: Sequence[str],
    raters: Sequence[str],
    settings: dict[str, Any],
    items: Iterable[tuple[str, str, str]],  # example id, category, leak flag
    replies: Iterable[tuple[str, str, str]],  # example id, system, text
    assignments: Sequence[NewAssignment],
) -> int:
    """Write a whole session; the caller owns the transaction."""
    conn = store.conn
    cur = conn.execute(
        f"INSERT INTO ab_sessions ({_SESSION_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, 'open', ?, NULL)",
        [token, dataset_id, dataset_name, seed, json.dumps(list(systems)), json.dumps(list(raters)),
         json.dumps(settings, sort_keys=True), now_iso()],
    )
    sid = int(cur.lastrowid)
    conn.executemany("INSERT INTO ab_items VALUES (?, ?, ?, ?)", [(sid, *i) for i in items])
    conn.executemany("INSERT INTO ab_replies VALUES (?, ?, ?, ?)", [(sid, *r) for r in replies])
    ids: dict[tuple[str, int], int] = {}
    for a in sorted(assignments, key=lambda a: a.repeat_of_position is not None):
        repeat_of = ids[(a.rater, a.repeat_of_position)] if a.repeat_of_position is not None else None
        cur = conn.execute(
            "INSERT INTO ab_assignments (session_id, rater, position, example_id, left_system, right_system, "
            "item_key, repeat_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [sid, a.rater, a.position, a.example_id, a.left_system, a.right_system, a.item_key, repeat_of],
        )
        ids[(a.rater, a.position)] = int(cur.lastrowid)
    return sid


def get_session(store: Store, session_id: int) -> SessionRecord:
    row = store.conn.execute(f"SELECT {_SESSION_COLUMNS} FROM ab_sessions WHERE id = ?", [session_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no A/B session {session_id}")
    return _session(row)


def find_session_by_token(store: Store, token: str) -> SessionRecord | None:
    row = store.conn.execute(f"SELECT {_SESSION_COLUMNS} FROM ab_sessions WHERE token = ?", [token]).fetchone()
    return _session(row) if row else None


def list_sessions(store: Store) -> list[SessionRecord]:
    return [_session(r) for r in store.conn.execute(f"SELECT {_SESSION_COLUMNS} FROM ab_sessions ORDER BY id")]


def set_locked(store: Store, session_id: int) -> None:
    store.conn.execute(
        "UPDATE ab_sessions SET state = 'locked', locked_at = ? WHERE id = ?", [now_iso(), session_id]
    )


def session_items(store: Store, session_id: int) -> dict[str, tuple[str, str]]:
    """example id → (category, leak flag)."""
    return {
        r[0]: (r[1], r[2])
        for r in store.conn.execute(
            "SELECT example_id, category, leak_flag FROM ab_items WHERE session_id = ?", [session_id]
        )
    }


def session_replies(store: Store, session_id: int) -> dict[tuple[str, str], str]:
    """(example id, system) → reply text as copied at setup."""
    return {
        (r[0], r[1]): r[2]
        for r in store.conn.execute(
            "SELECT example_id, system, text FROM ab_replies WHERE session_id = ?", [session_id]
        )
    }


# Assignments and votes ########################################################


def assignments(store: Store, session_id: int, rater: str | None = None) -> list[Assignment]:
    sql = f"SELECT {_ASSIGNMENT_COLUMNS} FROM ab_assignments WHERE session_id = ?"
    args: list[Any] = [session_id]
    if rater is not None:
        sql += " AND rater = ?"
        args.append(rater)
    return [_assignment(r) for r in store.conn.execute(sql + " ORDER BY rater, position", args)]


def current_votes(store: Store, session_id: int) -> dict[int, CurrentVote]:
    """assignment id → its vote now (the latest row, when that row is a vote)."""
    out: dict[int, CurrentVote] = {}
    for aid, action, choice, comment, source, at in store.conn.execute(
        "SELECT v.assignment_id, v.action, v.choice, v.comment, v.source, v.at FROM ab_votes v "
        "JOIN ab_assignments a ON a.id = v.assignment_id WHERE a.session_id = ? ORDER BY v.id",
        [session_id],
    ):
        if action == "vote":
            out[aid] = CurrentVote(aid, choice, comment, source, at)
        else:
            out.pop(aid, None)
    return out


def insert_vote(store: Store, assignment_id: int, choice: str, comment: str, source: str, at: str | None = None) -> int:
    cur = store.conn.execute(
        "INSERT INTO ab_votes (assignment_id, action, choice, comment, source, at) VALUES (?, 'vote', ?, ?, ?, ?)",
        [assignment_id, choice, comment, source, at or now_iso()],
    )
    return int(cur.lastrowid)


def insert_undo(store: Store, assignment_id: int, source: str) -> None:
    store.conn.execute(
        "INSERT INTO ab_votes (assignment_id, action, choice, comment, source, at) VALUES (?, 'undo', NULL, '', ?, ?)",
        [assignment_id, source, now_iso()],
    )


def last_voted_assignment(store: Store, session_id: int, rater: str) -> int | None:
    """The rater's assignment whose current vote was cast most recently (what Backspace undoes)."""
    votes = current_votes(store, session_id)
    row = None
    for aid, vote_id in store.conn.execute(
        "SELECT v.assignment_id, max(v.id) FROM ab_votes v JOIN ab_assignments a ON a.id = v.assignment_id "
        "WHERE a.session_id = ? AND a.rater = ? AND v.action = 'vote' GROUP BY v.assignment_id",
        [session_id, rater],
    ):
        if aid in votes and (row is None or vote_id > row[1]):
            row = (aid, vote_id)
    return row[0] if row else None
