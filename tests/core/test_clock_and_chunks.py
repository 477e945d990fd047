"""One clock for every stamp, one helper for chunked ``IN (...)`` queries (issue 13, item 4)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from core import clock, curation
from core.demo import ensure_demo_imported
from core.models import Role
from core.store import transcripts as transcript_store
from core.store.backups import list_backups
from core.store.chunks import chunks, rows_in
from core.store.decisions import iter_log

FIXED = datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)


def test_every_stamp_comes_from_the_one_clock(store, monkeypatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: FIXED)
    ensure_demo_imported(store)
    imported = {t.imported_at for t in transcript_store.list_transcripts(store)}
    assert imported == {"2031-02-03T04:05:06+00:00"}
    turn = next(t for t in transcript_store.turns_of(store, transcript_store.list_transcripts(store)[0].id)
                if t.role is Role.THERAPIST)
    curation.include(store, [turn.id], rater="alice")
    assert [r.at for r in iter_log(store)] == ["2031-02-03T04:05:06.789+00:00"]
    store.backup("before-test")
    stamps = [b.taken for b in list_backups(store.backup_dir)]
    assert FIXED in stamps


def test_chunked_in_queries_see_every_id_once_in_order() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, owner TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, "a" if i % 2 else "b") for i in range(2500)])
    wanted = list(range(0, 2500, 3)) + [99999]  # one id that is not there
    got = [r[0] for r in rows_in(conn, "SELECT id FROM t WHERE owner = ? AND id IN ({marks}) ORDER BY id",
                                 wanted, before=["a"], size=100)]
    assert got == [i for i in wanted if i % 2 and i < 2500]
    assert [len(c) for c in chunks(range(250), 100)] == [100, 100, 50]
    assert list(chunks([], 100)) == []
