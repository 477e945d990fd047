"""SQL for stored datasets and their examples (split membership by turn id)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Any, NamedTuple

from core.errors import NotFoundError, UsageError
from core.ids import DatasetId, TranscriptId, TurnId
# Domain types live in core.models; re-exported here for the store's callers.
from core.models import (  # noqa: F401
    LENGTH_HISTOGRAM_CAP,
    SPLITS,
    DatasetRecord,
    EvalItem,
    ExampleRow,
)
from core.store.connection import Store
from core.clock import now_iso

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
                    _int_list(e.context_turn_ids),
                )
                # in key order: each index grows at its end instead of splitting pages all over
                # (a quarter of the insert at 1M turns); every read orders its rows itself
                for e in sorted(examples, key=attrgetter("example_id"))
            ],
        )
    return dataset_id


def _int_list(ids: tuple[int, ...]) -> str:
    """``json.dumps(list(ids))`` for ints, the same text, without the encoder per row (27,000 at 1M turns)."""
    return "[" + ", ".join(map(str, ids)) + "]"


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
    if dataset_exists(store, name):
        store.backup("before-delete")
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


# The test items evaluation scores are built by core.datasets.items.eval_items,
# the same code that renders the exported files (exclusions and redactions applied).


# Target selection and contexts ##############################################


class CandidateRow(NamedTuple):
    """A therapist turn long enough to be a target, with what the rules need to judge it."""

    turn_id: TurnId
    transcript_id: TranscriptId
    position: int
    words: int
    category: str
    client_key: str | None
    status: str  # included | excluded | unreviewed (the decision policy's verdict)
    rating: float | None
    flagged: int  # 0 or 1
    # role of the nearest earlier turn that is not 'other'; None at the start
    prev_role: str | None
    text: str | None  # only when asked for
    prompt: str | None = None  # text of the turn the target answers (with the text)


def candidate_targets(store: Store, min_words: int, *, with_text: bool = True) -> list[CandidateRow]:
    """Therapist turns of at least ``min_words`` words, in turn id order.

    The verdict comes from the ``turn_effective`` view (the curation area's
    decision policy); turns nobody has decided on are absent there, i.e. unreviewed.
    ``prompt`` is the text of the turn the target answers (the nearest earlier
    turn that is not ``other``), which splits and the leakage check compare.
    """
    text_cols = "t.text, p.text" if with_text else "NULL, NULL"
    rows = store.conn.execute(
        f"SELECT t.id, t.transcript_id, t.position, t.word_count, tr.category, tr.client_key, "
        f"       coalesce(e.status, 'unreviewed'), e.rating, coalesce(e.flagged, 0), p.role, {text_cols} "
        f"FROM turns t JOIN transcripts tr ON tr.id = t.transcript_id "
        f"LEFT JOIN turn_effective e ON e.turn_id = t.id "
        f"LEFT JOIN turns p ON p.id = (SELECT q.id FROM turns q WHERE q.transcript_id = t.transcript_id "
        f"          AND q.position < t.position AND q.role != 'other' ORDER BY q.position DESC LIMIT 1) "
        f"WHERE t.role = 'therapist' AND t.word_count >= ? ORDER BY t.id",
        [min_words],
    )
    # Tens of thousands of rows on a large workspace: build tuples directly
    # (TurnId/TranscriptId are plain ints at runtime; flagged is 0/1).
    return [CandidateRow._make(r) for r in rows]


def transcript_metadata(store: Store) -> Iterator[tuple[TranscriptId, dict[str, Any]]]:
    """(transcript id, its stored source metadata) for every transcript, in id order."""
    for tid, meta in store.conn.execute("SELECT id, metadata FROM transcripts ORDER BY id"):
        yield TranscriptId(tid), json.loads(meta or "{}")


def turns_in_ranges(
    store: Store, ranges: list[tuple[int, int, int]]
) -> list[tuple[TurnId, TranscriptId, int, str, str, int]]:
    """(id, transcript_id, position, role, text, word_count) of the turns in each
    ``(transcript_id, first_position, last_position)`` range. Ranges must not
    overlap (merge them first).

    The rows come in (transcript, position) order in practice (ranges in order,
    each read along the (transcript_id, position) index) but SQL does not
    promise it: callers check (``core.datasets.targets.contexts_in_order``).
    An ORDER BY made SQLite copy every text into a temporary tree, about a
    quarter of the query's time at 1M turns.
    """
    if not ranges:
        return []
    return store.conn.execute(
        "SELECT t.id, t.transcript_id, t.position, t.role, t.text, t.word_count "
        # json_extract rather than ->>: the operator needs SQLite 3.38, older
        # system libraries (Ubuntu 22.04: 3.37) are still common under Python.
        "FROM json_each(?) r JOIN turns t ON t.transcript_id = json_extract(r.value, '$[0]') "
        "  AND t.position BETWEEN json_extract(r.value, '$[1]') AND json_extract(r.value, '$[2]')",
        [json.dumps(sorted(ranges))],
    ).fetchall()


def turn_texts(store: Store, turn_ids: Iterable[int]) -> dict[TurnId, tuple[str, str, int]]:
    """turn id → (role, text, word count) for the given ids (missing ids are simply absent)."""
    wanted = sorted(set(turn_ids))
    keep = set(wanted)
    rows = store.conn.execute(
        "SELECT t.id, t.role, t.text, t.word_count FROM json_each(?) r JOIN turns t "
        "ON t.id BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]')",
        [json.dumps(_id_ranges(wanted))],
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows if r[0] in keep}


def _id_ranges(sorted_ids: Iterable[int]) -> list[list[int]]:
    """Ascending distinct ids as [first, last] runs of consecutive ids.

    Context turns are runs of consecutive ids: reading id ranges walks the
    table's leaves instead of descending the tree once per id.
    """
    ranges: list[list[int]] = []
    for tid in sorted_ids:
        if ranges and tid == ranges[-1][1] + 1:
            ranges[-1][1] = tid
        else:
            ranges.append([tid, tid])
    return ranges


@dataclass(frozen=True, slots=True)
class TranscriptInfo:
    category: str
    client_key: str | None
    client_names: tuple[str, ...]
    content_hash: str = ""


def transcript_info(store: Store, transcript_ids: Iterable[int]) -> dict[TranscriptId, TranscriptInfo]:
    rows = store.conn.execute(
        "SELECT tr.id, tr.category, tr.client_key, tr.client_names, tr.content_hash "
        "FROM json_each(?) j JOIN transcripts tr ON tr.id = j.value",
        [json.dumps(sorted(set(transcript_ids)))],
    )
    return {
        TranscriptId(r[0]): TranscriptInfo(r[1], r[2], tuple(json.loads(r[3])), r[4]) for r in rows
    }


def therapist_length_counts(store: Store) -> dict[int, int]:
    """Word count → number of therapist turns; counts at or above the cap share its bin."""
    rows = store.conn.execute(
        "SELECT min(word_count, ?), count(*) FROM turns WHERE role = 'therapist' GROUP BY 1",
        [LENGTH_HISTOGRAM_CAP],
    )
    return {r[0]: r[1] for r in rows}


def frozen_test_dataset(store: Store) -> DatasetRecord | None:
    """The most recent dataset whose test split is frozen, if any."""
    row = store.conn.execute(
        f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE test_frozen = 1 ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return _dataset(row) if row else None


def dataset_exists(store: Store, name: str) -> bool:
    return store.conn.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone() is not None


def example_counts(store: Store) -> dict[DatasetId, dict[str, int]]:
    """dataset id → split → number of examples, for listings."""
    out: dict[DatasetId, dict[str, int]] = {}
    for did, split, n in store.conn.execute(
        "SELECT dataset_id, split, count(*) FROM dataset_examples GROUP BY dataset_id, split"
    ):
        out.setdefault(DatasetId(did), {})[split] = n
    return out


# What a dataset's rendered files were made from ##############################


def example_turn_ids(store: Store, dataset_id: DatasetId) -> list[TurnId]:
    """Every turn a stored dataset's examples draw on (targets and context turns), ascending.

    One plain read of the rows, the JSON lists parsed as one (``json_each``
    with a UNION in SQL took twice as long at 1M turns).
    """
    targets: list[int] = []
    contexts: list[str] = []
    for turn_id, context in store.conn.execute(
        "SELECT turn_id, context_turn_ids FROM dataset_examples WHERE dataset_id = ?", [dataset_id]
    ):
        targets.append(turn_id)
        inner = context.strip()[1:-1].strip()
        if inner:
            contexts.append(inner)
    ids = set(targets)
    ids.update(json.loads("[" + ",".join(contexts) + "]"))
    return sorted(ids)


def turn_text_columns(store: Store, sorted_ids: list[int]) -> tuple[str, str, str, str, str]:
    """The given turns as five texts: their ids, roles, word counts and text lengths,
    each joined with commas, and their texts run together (SQLite joins them: one
    row comes back instead of one per turn).

    ``sorted_ids`` ascending and distinct; rows come in id order in practice
    (ranges in order, each read along the rowid), a turn that is gone is simply
    absent: a caller comparing the result sees either as a difference (and a
    text holding NUL, whose SQL length stops there, too: never a false match).
    """
    row = store.conn.execute(
        "SELECT group_concat(t.id), group_concat(t.role), group_concat(t.word_count), "
        "group_concat(length(t.text)), group_concat(t.text, '') FROM json_each(?) r JOIN turns t "
        "ON t.id BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]')",
        [json.dumps(_id_ranges(sorted_ids))],
    ).fetchone()
    return tuple(part if part is not None else "" for part in row)  # type: ignore[return-value]


def test_transcript_ids(store: Store, dataset_id: DatasetId) -> list[TranscriptId]:
    """The transcripts a dataset's test items come from (their client names are in test.jsonl)."""
    rows = store.conn.execute(
        "SELECT DISTINCT transcript_id FROM dataset_examples WHERE dataset_id = ? AND split = 'test' "
        "ORDER BY transcript_id",
        [dataset_id],
    )
    return [TranscriptId(r[0]) for r in rows]
