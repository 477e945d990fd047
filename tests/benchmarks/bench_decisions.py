"""Curation core on a 1,000,000-turn workspace: decision latency, search, list queries.

``python -m tests.benchmarks decisions``. Targets (issue 3): a decision is
committed within 10 ms at the 95th percentile; a search over every turn
within 100 ms; the transcript list's and J/K's queries within 100 ms at the
default 50-word threshold, and well inside the window's 1.5 s at any.
Decisions are timed call-to-COMMIT-returned (synchronous=FULL, so each
includes its fsync) on a private copy of the cached workspace.

The floor (issue 12), measured in the same run, interleaved one for one with
the decisions so both see the same disk and neighbours: one ``INSERT`` and
``COMMIT`` into a plain table of a database of its own on the same file
system, under WAL and ``synchronous=FULL``. A decision's median must stay
within ``RATIO_TARGET`` of the floor's median, so a regression shows even
where the absolute target would hide it.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core import curation
from core.store import open_store
from tests.benchmarks.common import N_TURNS, Row, emit, median
from tests.benchmarks.corpus import copy_workspace, make_large_workspace

N_DECISIONS = 2_000
RATIO_TARGET = 3.0
RATER = "bench-rater"
DECISION_P95_MS = 10.0
SEARCH_MS = 100.0
LIST_MS = 100.0
WINDOW_MS = 1500.0
SEARCHES = ["feel", "the", "sleep anxious", "work", "drinking alcohol", "you know", "motiv", "zzzqx"]


def _ms(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _line(label: str, values: list[float]) -> str:
    return (f"{label:<38} p50 {_pct(values, 50):7.2f} ms  p95 {_pct(values, 95):7.2f} ms  "
            f"p99 {_pct(values, 99):7.2f} ms  max {max(values):7.2f} ms  (n={len(values)})")


def _floor_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, turn INTEGER, rater TEXT, at TEXT)")
    return conn


def main() -> list[Row]:
    t0 = time.perf_counter()
    cached = make_large_workspace(n_turns=N_TURNS)
    print(f"workspace ready in {time.perf_counter() - t0:.1f} s ({cached})", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = copy_workspace(cached, Path(tmp) / "ws")
        t0 = time.perf_counter()
        store = open_store(ws)
        print(f"open_store                             {1000 * (time.perf_counter() - t0):7.1f} ms")
        try:
            n_turns = store.conn.execute("SELECT count(*) FROM turns").fetchone()[0]
            n_transcripts = store.conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
            n_log = store.conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
            print(f"{n_transcripts} transcripts, {n_turns} turns, {n_log} decisions already logged")

            # List and navigation queries (what the window needs to appear).
            # (label, call, target ms for the median): the default 50-word threshold
            # has the 100 ms target; 8 words (an unusual setting) only the window's budget.
            for label, fn, target in [
                ("transcript_summaries(rater=None)",
                 lambda: curation.transcript_summaries(store, min_words=50, rater=None), LIST_MS),
                ("transcript_summaries(rater='me')",
                 lambda: curation.transcript_summaries(store, min_words=50, rater="me"), LIST_MS),
                ("transcript_summaries(min_words=8, todo)",
                 lambda: curation.transcript_summaries(store, min_words=8, rater=None, status_filter="todo"),
                 WINDOW_MS),
                ("eligible_turn_ids(min_words=50)",
                 lambda: curation.eligible_turn_ids(store, min_words=50), LIST_MS),
                ("eligible_turn_ids(min_words=8)",
                 lambda: curation.eligible_turn_ids(store, min_words=8), WINDOW_MS),
            ]:
                times = _ms(fn, 7)
                print(_line(label, times))
                rows.append(Row(f"{label}, median", median(times), "ms", target=target))
            eligible = curation.eligible_turn_ids(store, min_words=50)
            print(f"  ({len(eligible)} eligible therapist turns at 50 words)")

            conv_ids = [tid for tid, tr in eligible if tr == eligible[len(eligible) // 2][1]]
            times = _ms(lambda: curation.turn_states(store, conv_ids, rater=RATER), 20)
            print(_line(f"turn_states (one transcript, {len(conv_ids)} turns)", times))
            times = _ms(lambda: curation.undo_status(store, rater="me"), 50)
            print(_line("undo_status", times))

            # Search.
            slowest = (0.0, "")
            for q in SEARCHES:
                times = _ms(lambda q=q: curation.search(store, q), 9)
                hits = len(curation.search(store, q))
                print(_line(f"search {q!r} ({hits} hits)", times))
                slowest = max(slowest, (median(times), q))
            rows.append(Row(f"search, slowest query's median ({slowest[1]!r})", slowest[0], "ms", target=SEARCH_MS))

            # Decisions: call to committed, each followed by one floor commit.
            floor_conn = _floor_db(Path(tmp) / "floor.db")
            floor: list[float] = []
            rng = random.Random(3)
            picks = [rng.choice(eligible)[0] for _ in range(N_DECISIONS)]
            reasons = list(curation.ExcludeReason)
            per_op: dict[str, list[float]] = {"include": [], "exclude": [], "rate": []}
            for i, turn_id in enumerate(picks):
                kind = ("include", "exclude", "rate")[i % 3]
                t0 = time.perf_counter()
                if kind == "include":
                    curation.include(store, [turn_id], rater=RATER)
                elif kind == "exclude":
                    curation.exclude(store, [turn_id], rater=RATER, reason=reasons[i % len(reasons)])
                else:
                    curation.rate(store, [turn_id], rater=RATER, rating=1 + i % 5)
                per_op[kind].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                floor_conn.execute("BEGIN IMMEDIATE")
                floor_conn.execute("INSERT INTO log (turn, rater, at) VALUES (?, ?, datetime('now'))", [turn_id, RATER])
                floor_conn.execute("COMMIT")
                floor.append((time.perf_counter() - t0) * 1000)
            floor_conn.close()
            every = [t for ts in per_op.values() for t in ts]
            for kind, times in per_op.items():
                print(_line(f"{kind} (one turn, committed)", times))
            print(_line("any decision", every))
            print(_line("floor: INSERT + COMMIT (WAL, FULL)", floor))
            rows.append(Row("decision committed, median", median(every), "ms", floor=median(floor),
                            ratio_target=RATIO_TARGET))
            # The 10 ms target holds where the disk's own fsync allows: on a shared VM
            # the floor's p95 alone can pass it, so the p95 is judged against the floor.
            p95_target = DECISION_P95_MS if _pct(floor, 95) < DECISION_P95_MS / 2 else None
            rows.append(Row("decision committed, p95", _pct(every, 95), "ms", floor=_pct(floor, 95),
                            target=p95_target, ratio_target=RATIO_TARGET))
            bulk = [tid for tid, _ in eligible[:500]]
            print(_line("exclude 500 turns (one step)", _ms(
                lambda: curation.exclude(store, bulk, rater=RATER, reason=curation.ExcludeReason.OTHER), 1)))
            print(_line("undo (500-turn step)", _ms(lambda: curation.undo(store, rater=RATER), 1)))
            print(_line("undo (one-turn steps)", _ms(lambda: curation.undo(store, rater=RATER), 200)))
            print(_line("redo (one-turn steps)", _ms(lambda: curation.redo(store, rater=RATER), 200)))
            times = _ms(lambda: curation.transcript_summaries(store, min_words=50, rater=None), 5)
            print(_line("transcript_summaries after the run", times))
            check = store.conn.execute("PRAGMA integrity_check").fetchone()[0]
            print(f"integrity_check after the run: {check}")
            rows.append(Row("integrity_check after the run: problems", float(check != "ok"), "", target=0))
        finally:
            store.close()
    return rows


if __name__ == "__main__":
    emit(main())
