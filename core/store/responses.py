"""SQL for systems (named sources of replies), their replies and the feature cache."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import NotFoundError
from core.ids import DatasetId, SystemId
from core.store.chunks import rows_in
from core.store.connection import Store
from core.clock import now_iso

@dataclass(frozen=True, slots=True)
class SystemRecord:
    id: SystemId
    name: str
    kind: str
    provenance: dict[str, Any]
    created_at: str


@dataclass(frozen=True, slots=True)
class SystemSummary:
    system: SystemRecord
    replies: int  # every stored reply, whatever its state
    by_state: dict[str, int]
    datasets: tuple[str, ...]  # datasets whose test items it answers


# (words, sentences, compound, questions) of one text
Features = tuple[int, int, float, int]


@dataclass(frozen=True, slots=True)
class StoredReply:
    example_id: str
    text: str
    state: str  # ok | empty | blocked
    detail: str
    scorer: str | None  # who computed ``features``; None: not computed
    features: Features | None


@dataclass(frozen=True, slots=True)
class ReplyRow:
    example_id: str
    text: str
    state: str
    detail: str
    provenance: dict[str, Any]
    scorer: str | None = None
    features: Features | None = None


@dataclass(frozen=True, slots=True)
class ExampleInfo:
    example_id: str
    dataset: str
    split: str


def _system(row: tuple) -> SystemRecord:
    return SystemRecord(
        id=SystemId(row[0]), name=row[1], kind=row[2], provenance=json.loads(row[3]), created_at=row[4]
    )


# Systems ######################################################################


def find_system(store: Store, name: str) -> SystemRecord | None:
    row = store.conn.execute(
        "SELECT id, name, kind, provenance, created_at FROM systems WHERE name = ?", [name]
    ).fetchone()
    return _system(row) if row else None


def get_system(store: Store, name: str) -> SystemRecord:
    system = find_system(store, name)
    if system is None:
        raise NotFoundError(f"no system named {name!r}")
    return system


def insert_system(store: Store, name: str, kind: str, provenance: dict[str, Any]) -> SystemId:
    """Create a system; the caller owns the transaction."""
    cur = store.conn.execute(
        "INSERT INTO systems (name, kind, provenance, created_at) VALUES (?, ?, ?, ?)",
        [name, kind, json.dumps(provenance, sort_keys=True, ensure_ascii=False), now_iso()],
    )
    return SystemId(cur.lastrowid)


def list_systems(store: Store) -> list[SystemSummary]:
    conn = store.conn
    systems = [
        _system(r)
        for r in conn.execute("SELECT id, name, kind, provenance, created_at FROM systems ORDER BY name")
    ]
    by_state: dict[int, dict[str, int]] = {}
    for sid, state, n in conn.execute("SELECT system_id, state, count(*) FROM responses GROUP BY 1, 2"):
        by_state.setdefault(sid, {})[state] = n
    datasets: dict[int, list[str]] = {}
    for sid, name in conn.execute(
        "SELECT DISTINCT r.system_id, d.name FROM responses r "
        "JOIN dataset_examples e ON e.example_id = r.example_id "
        "JOIN datasets d ON d.id = e.dataset_id ORDER BY d.name"
    ):
        datasets.setdefault(sid, []).append(name)
    return [
        SystemSummary(
            system=s,
            replies=sum(by_state.get(s.id, {}).values()),
            by_state=dict(by_state.get(s.id, {})),
            datasets=tuple(datasets.get(s.id, [])),
        )
        for s in systems
    ]


def count_test_items(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM dataset_examples WHERE split = 'test'").fetchone()[0]


def delete_system(store: Store, name: str) -> int:
    """Delete a system and its replies; returns how many replies went with it."""
    if find_system(store, name) is not None:
        store.backup("before-delete")
    with store.transaction() as conn:
        system = get_system(store, name)
        n = conn.execute("SELECT count(*) FROM responses WHERE system_id = ?", [system.id]).fetchone()[0]
        conn.execute("DELETE FROM systems WHERE id = ?", [system.id])
    return n


# Replies ######################################################################


def example_info(store: Store, example_ids: Sequence[str]) -> dict[str, ExampleInfo]:
    """Which dataset and split each known example id belongs to (unknown ids are absent)."""
    out: dict[str, ExampleInfo] = {}
    unique = sorted(set(example_ids))
    for eid, dataset, split in rows_in(
        store.conn,
        "SELECT e.example_id, d.name, e.split FROM dataset_examples e "
        # an id may be in several datasets (ids come from the source): a test row wins
        "JOIN datasets d ON d.id = e.dataset_id WHERE e.example_id IN ({marks}) "
        "ORDER BY e.split = 'test', d.id",
        unique,
    ):
        out[eid] = ExampleInfo(eid, dataset, split)
    return out


def stored_example_ids(store: Store, system_id: SystemId, example_ids: Sequence[str]) -> set[str]:
    return {
        r[0]
        for r in rows_in(
            store.conn, "SELECT example_id FROM responses WHERE system_id = ? AND example_id IN ({marks})",
            sorted(set(example_ids)), before=[system_id],
        )
    }


def write_replies(store: Store, system_id: SystemId, rows: Iterable[ReplyRow]) -> int:
    """Insert or replace replies with their features; the caller owns the transaction."""
    at = now_iso()
    cur = store.conn.executemany(
        "INSERT INTO responses (system_id, example_id, text, state, detail, provenance, created_at, "
        "scorer, words, sentences, compound, questions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(system_id, example_id) DO UPDATE SET text = excluded.text, "
        "state = excluded.state, detail = excluded.detail, provenance = excluded.provenance, "
        "created_at = excluded.created_at, scorer = excluded.scorer, words = excluded.words, "
        "sentences = excluded.sentences, compound = excluded.compound, questions = excluded.questions",
        [
            (
                system_id,
                r.example_id,
                r.text,
                r.state,
                r.detail,
                json.dumps(r.provenance, sort_keys=True, ensure_ascii=False),
                at,
                r.scorer if r.features is not None else None,
                *(r.features if r.features is not None else (None, None, None, None)),
            )
            for r in rows
        ],
    )
    return cur.rowcount


def replies_for_dataset(
    store: Store, system_id: SystemId, dataset_id: DatasetId
) -> dict[str, StoredReply]:
    """The system's replies to a dataset's test items, by example id."""
    rows = store.conn.execute(
        "SELECT r.example_id, r.text, r.state, r.detail, r.scorer, r.words, r.sentences, r.compound, "
        "r.questions FROM responses r JOIN dataset_examples e ON e.example_id = r.example_id "
        "WHERE r.system_id = ? AND e.dataset_id = ? AND e.split = 'test'",
        [system_id, dataset_id],
    )
    return {
        r[0]: StoredReply(r[0], r[1], r[2], r[3], r[4], (r[5], r[6], r[7], r[8]) if r[4] is not None else None)
        for r in rows
    }


def update_reply_features(
    store: Store, system_id: SystemId, scorer: str, rows: Iterable[tuple[str, Features]]
) -> None:
    """Store features computed for replies that had none from this scorer."""
    with store.transaction() as conn:
        conn.executemany(
            "UPDATE responses SET scorer = ?, words = ?, sentences = ?, compound = ?, questions = ? "
            "WHERE system_id = ? AND example_id = ?",
            [(scorer, *f, system_id, eid) for eid, f in rows],
        )


# Feature cache ################################################################


def reference_features(store: Store, turn_ids: Sequence[int], scorer: str) -> dict[int, Features]:
    """Cached features of reference turns, for rows this scorer wrote."""
    out: dict[int, Features] = {}
    for tid, w, s, c, q in rows_in(
        store.conn,
        "SELECT turn_id, words, sentences, compound, questions FROM reference_features "
        "WHERE scorer = ? AND turn_id IN ({marks})",
        sorted(set(turn_ids)), before=[scorer],
    ):
        out[tid] = (w, s, c, q)
    return out


def save_reference_features(store: Store, scorer: str, rows: Iterable[tuple[int, Features]]) -> None:
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO reference_features (turn_id, scorer, words, sentences, compound, questions) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(turn_id) DO UPDATE SET scorer = excluded.scorer, "
            "words = excluded.words, sentences = excluded.sentences, "
            "compound = excluded.compound, questions = excluded.questions",
            [(tid, scorer, *f) for tid, f in rows],
        )
