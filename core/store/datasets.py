"""SQL for stored datasets and their examples (split membership by turn id)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.errors import NotFoundError, UsageError
from core.ids import DatasetId, TranscriptId, TurnId
from core.store.connection import Store
from core.store.transcripts import now_iso

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True, slots=True)
class ExampleRow:
    example_id: str
    split: str
    turn_id: TurnId
    transcript_id: TranscriptId
    category: str
    target_words: int
    context_turn_ids: tuple[TurnId, ...]


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    id: DatasetId
    name: str
    created_at: str
    rules: dict[str, Any]
    seed: int
    counts: dict[str, Any]
    content_hash: str
    system_instruction: str
    test_from: DatasetId | None
    test_frozen: bool


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One held-out test item: the context, the real therapist reply, who the client is."""

    example_id: str
    dataset_id: DatasetId
    category: str
    context: tuple[tuple[str, str], ...]  # (role, text), oldest first; role is therapist/client
    reference: str
    client_names: tuple[str, ...]
    turn_id: TurnId
    transcript_id: TranscriptId


_DATASET_COLUMNS = (
    "id, name, created_at, rules, seed, counts, content_hash, system_instruction, test_from, test_frozen"
)


def _dataset(row: tuple) -> DatasetRecord:
    return DatasetRecord(
        id=DatasetId(row[0]),
        name=row[1],
        created_at=row[2],
        rules=json.loads(row[3]),
        seed=row[4],
        counts=json.loads(row[5]),
        content_hash=row[6],
        system_instruction=row[7],
        test_from=DatasetId(row[8]) if row[8] is not None else None,
        test_frozen=bool(row[9]),
    )


def _example(row: tuple) -> ExampleRow:
    return ExampleRow(
        example_id=row[0],
        split=row[1],
        turn_id=TurnId(row[2]),
        transcript_id=TranscriptId(row[3]),
        category=row[4],
        target_words=row[5],
        context_turn_ids=tuple(TurnId(t) for t in json.loads(row[6])),
    )


def insert_dataset(
    store: Store,
    *,
    name: str,
    rules: dict[str, Any],
    seed: int,
    counts: dict[str, Any],
    content_hash: str,
    system_instruction: str,
    examples: list[ExampleRow],
    test_from: DatasetId | None = None,
    test_frozen: bool = False,
) -> DatasetId:
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
            raise UsageError(f"a dataset named {name!r} already exists")
        cur = conn.execute(
            f"INSERT INTO datasets ({_DATASET_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                now_iso(),
                json.dumps(rules, sort_keys=True),
                seed,
                json.dumps(counts, sort_keys=True),
                content_hash,
                system_instruction,
                test_from,
                int(test_frozen),
            ],
        )
        dataset_id = DatasetId(cur.lastrowid)
        conn.executemany(
            "INSERT INTO dataset_examples (example_id, dataset_id, split, turn_id, transcript_id, "
            "category, target_words, context_turn_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.example_id,
                    dataset_id,
                    e.split,
                    e.turn_id,
                    e.transcript_id,
                    e.category,
                    e.target_words,
                    json.dumps(list(e.context_turn_ids)),
                )
                for e in examples
            ],
        )
    return dataset_id


def get_dataset(store: Store, name: str) -> DatasetRecord:
    row = store.conn.execute(
        f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return _dataset(row)


def list_datasets(store: Store) -> list[DatasetRecord]:
    rows = store.conn.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets ORDER BY id")
    return [_dataset(r) for r in rows]


def delete_dataset(store: Store, name: str) -> None:
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM datasets WHERE test_from = (SELECT id FROM datasets WHERE name = ?)",
                        [name]).fetchone():
            raise UsageError(f"dataset {name!r} provides the frozen test split of another dataset")
        if conn.execute("DELETE FROM datasets WHERE name = ?", [name]).rowcount == 0:
            raise NotFoundError(f"no dataset named {name!r}")


def examples_of(store: Store, dataset_id: DatasetId, split: str | None = None) -> list[ExampleRow]:
    sql = (
        "SELECT example_id, split, turn_id, transcript_id, category, target_words, context_turn_ids "
        "FROM dataset_examples WHERE dataset_id = ?"
    )
    args: list[Any] = [dataset_id]
    if split is not None:
        sql += " AND split = ?"
        args.append(split)
    return [_example(r) for r in store.conn.execute(sql + " ORDER BY example_id", args)]


def max_example_number(store: Store) -> int:
    """Example ids are ``ex-NNNNNNNN`` numbered across all datasets, never reused."""
    row = store.conn.execute(
        "SELECT max(CAST(substr(example_id, 4) AS INTEGER)) FROM dataset_examples "
        "WHERE example_id LIKE 'ex-%'"
    ).fetchone()
    return row[0] or 0


def eval_items(store: Store, dataset_id: DatasetId) -> list[EvalItem]:
    """The dataset's test items with their context and reference text."""
    rows = store.conn.execute(
        "SELECT e.example_id, e.category, e.context_turn_ids, e.turn_id, e.transcript_id, "
        "       t.text, tr.client_names "
        "FROM dataset_examples e JOIN turns t ON t.id = e.turn_id "
        "JOIN transcripts tr ON tr.id = e.transcript_id "
        "WHERE e.dataset_id = ? AND e.split = 'test' ORDER BY e.example_id",
        [dataset_id],
    ).fetchall()
    wanted = {tid for r in rows for tid in json.loads(r[2])}
    texts: dict[int, tuple[str, str]] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for tid, role, text in store.conn.execute(
            f"SELECT id, role, text FROM turns WHERE id IN ({marks})", chunk
        ):
            texts[tid] = (role, text)
    return [
        EvalItem(
            example_id=r[0],
            dataset_id=dataset_id,
            category=r[1],
            context=tuple(texts[t] for t in json.loads(r[2])),
            reference=r[5],
            client_names=tuple(json.loads(r[6])),
            turn_id=TurnId(r[3]),
            transcript_id=TranscriptId(r[4]),
        )
        for r in rows
    ]
