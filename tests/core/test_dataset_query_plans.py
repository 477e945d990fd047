"""Migration 0013 (dataset insert cost): dataset_examples' split CHECK without an IN
list, the same rule, and every read of the table served by an index.

A build stores tens of thousands of rows at once and SQLite rebuilt the CHECK's
list for each; three comparisons do the same. These tests hold the rule (fresh
and migrated) and the plan of every query the product runs on dataset_examples:
each reaches its rows through an index, none reads every dataset's rows.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from core.datasets import DatasetRules, build_dataset, export_dataset
from core.datasets.items import eval_items
from core.store import open_store
from core.store import datasets as ds_store
from core.store import responses as response_store
from core.store import transcripts as transcript_store
from core.workspace import DB_FILENAME
from tests.core.datasets_fixtures import open_populated
from tests.fixtures.make_workspaces import fixture_path

BEFORE_0013 = fixture_path("0013_dataset_insert_cost")
# Counts over every dataset at once, read from an index without touching the rows.
WHOLE_INDEX = ("GROUP BY dataset_id, split", "FROM dataset_examples WHERE split = 'test'")


def _insert_row(conn: sqlite3.Connection, split: object) -> None:
    dataset_id = conn.execute(
        "INSERT INTO datasets (name, created_at, rules, seed, counts, content_hash) "
        "VALUES (?, 'now', '{}', 0, '{}', '')", [f"d{conn.total_changes}"]
    ).lastrowid
    turn_id, transcript_id = conn.execute("SELECT id, transcript_id FROM turns LIMIT 1").fetchone()
    conn.execute(
        "INSERT INTO dataset_examples (example_id, dataset_id, split, turn_id, transcript_id, category, "
        "target_words, context_turn_ids) VALUES ('ex-1', ?, ?, ?, ?, 'c', 50, '[]')",
        [dataset_id, split, turn_id, transcript_id],
    )


@pytest.mark.parametrize("kind", ["fresh", "migrated"])
def test_the_split_check_refuses_what_it_refused_before(tmp_path: Path, kind: str) -> None:
    if kind == "migrated":
        ws = tmp_path / "old"
        ws.mkdir(mode=0o700)
        shutil.copyfile(BEFORE_0013, ws / DB_FILENAME)
        store = open_store(ws)
    else:
        store = open_populated(tmp_path / "new", n_sessions=2)
    with store:
        conn = store.conn
        if conn.execute("SELECT count(*) FROM turns").fetchone()[0] == 0:
            conn.execute("INSERT INTO transcripts (title, source_path, content_hash, format, imported_at) "
                         "VALUES ('t', 'p', 'h', 'text', 'now')")
            conn.execute("INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
                         "VALUES (1, 0, 'therapist', 'T', 'x', 'x', 1)")
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'dataset_examples'").fetchone()[0]
        assert " IN (" not in sql, "the IN-list CHECK is back: SQLite rebuilds its list per inserted row"
        for split in ("train", "validation", "test"):
            _insert_row(conn, split)
        for bad in ("Train", "TEST", "dev", "", "test "):
            with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
                _insert_row(conn, bad)
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            _insert_row(conn, None)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_every_dataset_examples_read_uses_an_index(tmp_path: Path) -> None:
    with open_populated(tmp_path / "ws") as store:
        conn = store.conn
        queries: list[str] = []
        conn.set_trace_callback(queries.append)
        record = build_dataset(store, "d", DatasetRules(freeze_test=True))
        build_dataset(store, "e", DatasetRules(seed=1))
        export_dataset(store, "d", tmp_path / "out")
        with open_store(tmp_path / "ws") as later:  # a later session checks the kept files' inputs
            export_dataset(later, "d", tmp_path / "out2")
        eval_items(store, record.id)
        ds_store.example_counts(store)
        response_store.count_test_items(store)
        transcript_store.deletion_impact(store, [ds_store.examples_of(store, record.id)[0].transcript_id])
        conn.set_trace_callback(None)
        reads = {q for q in queries if "dataset_examples" in q and q.lstrip().upper().startswith("SELECT")}
        assert len(reads) >= 6, reads
        for sql in sorted(reads):
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            scans = [step for step in plan if step.startswith(("SCAN dataset_examples", "SCAN e", "SCAN o"))]
            if any(marker in sql for marker in WHOLE_INDEX):
                assert all("COVERING INDEX" in step for step in scans), f"{sql}\n reads the rows: {plan}"
                continue
            assert not scans, f"{sql}\n reads every dataset's rows: {plan}"
