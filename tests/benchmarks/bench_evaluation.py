"""Evaluation speed: 10,000 test items x 3 systems, target 1.2 s of CPU to score (warm).

VADER is the cost (about 0.2 ms for an 80-word reply), so features are
computed once per text: replies when they are imported (stored on their
row), references the first time a dataset is evaluated (``reference_features``).
The figures printed:

- import of each system's 10,000 replies (VADER runs here, once);
- the first evaluation (references scored and cached; 1000 bootstrap resamples);
- a later evaluation, as in a new session (features from the store, the
  in-process cache cleared) = the target;
- the bootstrap share of it;
- the bootstrap alone on 100,000 items x 3 systems (synthetic columns shaped
  as ``evaluate`` builds them).

Targets (issue 12): the warm evaluation of 10,000 items x 3 systems within
1.2 s of CPU time (the median of ``WARM_RUNS``), the 100,000-item bootstrap
within 10 s (the median of ``BOOTSTRAP_RUNS``). CPU time, not wall: the
machine is shared, and the work is single-threaded (the bootstrap keeps
OpenBLAS on one thread, see ``core/evaluation/stats.py``), so CPU time
measures this code rather than its neighbours. No floor: the
figures are judged against their absolute targets (the bootstrap share is
printed beside them). Peak memory is this process's own ``VmHWM``.

Synthetic text only (built here with sqlite3 directly for speed).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import RUNS, Row, emit, median, peak_mb

ITEMS = int(os.environ.get("ATTUNE_BENCH_ITEMS", "10000"))
SYSTEMS = {"base": (60, 140), "tuned": (30, 90), "other": (10, 60)}  # reply length ranges (words)
TARGET_S = 1.2
BOOTSTRAP_ITEMS = 100_000
BOOTSTRAP_S = 10.0
# Medians of this many runs (CPU time: 2 cores are shared here): one noisy run never decides.
WARM_RUNS = max(RUNS, 5)
BOOTSTRAP_RUNS = 3

_WORDS = (
    "I hear you that sounds really hard and I wonder how you are feeling about your mother today "
    "what would help you notice when it starts the worry comes back at night work sleep family "
    "friends money plans feel felt think thought maybe perhaps together week session time change "
    "good great happy hope calm safe support love sad tired angry afraid alone hurt worse bad not "
    "never so very kind of but no least without doubt okay yes right sense body chest heart breath"
).split()
_CATEGORIES = ["Anxiety", "Depression", "Fatigue", "Frustration", "Sadness", "Anger", "Other"]


def _text(rng: random.Random, low: int, high: int) -> str:
    n = rng.randint(low, high)
    out, sentence = [], []
    for i in range(n):
        sentence.append(rng.choice(_WORDS))
        if len(sentence) >= rng.randint(6, 16) or i == n - 1:
            out.append(" ".join(sentence).capitalize() + rng.choice([".", ".", "?", "!"]))
            sentence = []
    return " ".join(out)


def build(home: Path, reply_dir: Path) -> None:
    from core.store import open_store

    rng = random.Random(2026)
    with open_store(home) as store:
        conn = store.conn
        conn.execute("BEGIN")
        per_transcript = 100
        example_rows = []
        for t in range(ITEMS // per_transcript):
            cur = conn.execute(
                "INSERT INTO transcripts (title, source_path, content_hash, format, category, client_names, "
                "imported_at, turn_count) VALUES (?, 'bench', ?, 'bench', ?, ?, '2026-01-01', ?)",
                [f"t{t}", f"h{t}", _CATEGORIES[t % 7], json.dumps(["Sam"] if t % 2 else []), 2 * per_transcript],
            )
            tid = cur.lastrowid
            for k in range(per_transcript):
                client = _text(rng, 5, 30)
                ref = _text(rng, 50, 110)
                c = conn.execute(
                    "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
                    "VALUES (?, ?, 'client', 'C', ?, ?, ?)", [tid, 2 * k, client, client, len(client.split())])
                r = conn.execute(
                    "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
                    "VALUES (?, ?, 'therapist', 'T', ?, ?, ?)", [tid, 2 * k + 1, ref, ref, len(ref.split())])
                example_rows.append((f"ex-{len(example_rows) + 1:08d}", r.lastrowid, tid, _CATEGORIES[t % 7],
                                     json.dumps([c.lastrowid])))
        conn.execute(
            "INSERT INTO datasets (id, name, created_at, rules, seed, counts, content_hash) "
            "VALUES (1, 'bench', '2026-01-01', '{}', 0, '{}', 'x')")
        conn.executemany(
            "INSERT INTO dataset_examples (example_id, dataset_id, split, turn_id, transcript_id, category, "
            "target_words, context_turn_ids) VALUES (?, 1, 'test', ?, ?, ?, 0, ?)", example_rows)
        conn.execute("COMMIT")
    reply_dir.mkdir(parents=True, exist_ok=True)
    for system, (low, high) in SYSTEMS.items():
        with (reply_dir / f"{system}.jsonl").open("w", encoding="utf-8") as f:
            for eid, *_ in example_rows:
                f.write(json.dumps({"example_id": eid, "response": _text(rng, low, high)}) + "\n")


def _bootstrap_alone(items: int, runs: int = BOOTSTRAP_RUNS) -> tuple[float, float, float]:
    """stratified_bootstrap on columns shaped as evaluate's: (median CPU s, median wall s, peak MB)."""
    from core.evaluation.stats import RatioColumn, stratified_bootstrap

    rng = random.Random(5)
    strata = {}
    per = items // len(_CATEGORIES)
    for cat in _CATEGORIES:
        cols = {}
        for system in SYSTEMS:
            weights = [int(rng.random() < 0.97) for _ in range(per)]
            for metric, high in (("len", 120), ("sent", 2_000_000), ("sentences", 9)):
                cols[f"{system}\x00{metric}"] = RatioColumn(
                    [rng.randint(0, high) * w for w in weights], weights, 1_000_000 if metric == "sent" else 1)
        for a, b in (("base", "tuned"), ("base", "other"), ("tuned", "other")):
            for metric, high in (("len", 120), ("sent", 2_000_000), ("sentences", 9)):
                cols[f"{a}\x00{b}\x00{metric}"] = RatioColumn(
                    [rng.randint(-high, high) for _ in range(per)], [1] * per)
        strata[cat] = cols
    cpu, wall = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        stratified_bootstrap(strata, seed=0)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return median(cpu), median(wall), peak_mb()


def main() -> list[Row]:
    from core.evaluation import evaluate, metrics
    from core.evaluation.responses import import_responses
    from core.evaluation.stats import RESAMPLES
    from core.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        home, replies = Path(tmp) / "ws", Path(tmp) / "replies"
        t0 = time.perf_counter()
        build(home, replies)
        print(f"built {ITEMS} test items and {len(SYSTEMS)} reply files in {time.perf_counter() - t0:.1f} s")
        with open_store(home) as store:
            for system in SYSTEMS:
                t0, c0 = time.perf_counter(), time.process_time()
                import_responses(store, system, replies / f"{system}.jsonl")
                print(f"import {system:<6} {ITEMS} replies (VADER once each): {time.perf_counter() - t0:6.2f} s wall, "
                      f"{time.process_time() - c0:.2f} s CPU")
            t0, c0 = time.perf_counter(), time.process_time()
            evaluate(store, "bench", list(SYSTEMS), seed=0)
            print(f"first evaluation (scores and caches {ITEMS} references): {time.perf_counter() - t0:6.2f} s wall, "
                  f"{time.process_time() - c0:.2f} s CPU")
        warm, no_boot = [], []
        for _ in range(WARM_RUNS):
            # A later evaluation, as in a new session: nothing in the process cache, a
            # connection of its own (a second evaluation on the same one would find
            # SQLite's page cache filled, and the bootstrap's share would read too small).
            # The two kinds of run in turn, so both see the same neighbours.
            for resamples, out in ((RESAMPLES, warm), (1, no_boot)):
                metrics.features.cache_clear()
                with open_store(home) as store:
                    t0, c0 = time.perf_counter(), time.process_time()
                    result = evaluate(store, "bench", list(SYSTEMS), seed=0, resamples=resamples)
                    out.append((time.process_time() - c0, time.perf_counter() - t0))
        warm_cpu, warm_wall = median([c for c, _ in warm]), median([w for _, w in warm])
        boot_cpu = warm_cpu - median([c for c, _ in no_boot])
        print(f"evaluation, {ITEMS} items x {len(SYSTEMS)} systems, features cached: {warm_wall:6.2f} s wall, "
              f"{warm_cpu:.2f} s CPU (median of {WARM_RUNS}); of which bootstrap (1000 resamples, every "
              f"category, 3 pairs) {boot_cpu:.2f} s CPU")
        print("  overall: " + ", ".join(
            f"{s} {result.overall.systems[s].avg_length_diff:.2f} words" for s in SYSTEMS))
    eval_peak = peak_mb()
    b_cpu, b_wall, b_peak = _bootstrap_alone(BOOTSTRAP_ITEMS)
    print(f"bootstrap alone, {BOOTSTRAP_ITEMS:,} items x {len(SYSTEMS)} systems: {b_cpu:.2f} s CPU, {b_wall:.2f} s wall "
          f"(median of {BOOTSTRAP_RUNS}), process peak {b_peak:.0f} MB")
    return [
        Row(f"evaluate {ITEMS:,} items x 3 systems, warm (CPU)", warm_cpu, "s", target=TARGET_S),
        Row("  of which the bootstrap (CPU)", boot_cpu, "s"),
        Row(f"bootstrap alone, {BOOTSTRAP_ITEMS:,} items x 3 systems (CPU)", b_cpu, "s", target=BOOTSTRAP_S),
        Row("evaluation process peak memory (VmHWM)", eval_peak, "MB"),
    ]


if __name__ == "__main__":
    emit(main())
