"""Evaluation speed: 10,000 test items x 3 systems, target 3 s to score.

VADER is the cost (about 0.2 ms for an 80-word reply), so features are
computed once per text: replies when they are imported (stored on their
row), references the first time a dataset is evaluated (``reference_features``).
The figures printed:

- import of each system's 10,000 replies (VADER runs here, once);
- the first evaluation (references scored and cached; 1000 bootstrap resamples);
- a later evaluation in a fresh process (features from the store) = the target;
- the bootstrap share of it.

Synthetic text only (built here with sqlite3 directly for speed).
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

ITEMS = 10_000
SYSTEMS = {"base": (60, 140), "tuned": (30, 90), "other": (10, 60)}  # reply length ranges (words)
TARGET_S = 3.0

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


def main() -> int:
    from core.evaluation import evaluate, metrics
    from core.evaluation.responses import import_responses
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
        # A later evaluation, as in a new session: nothing in the process cache.
        metrics.features.cache_clear()
        with open_store(home) as store:
            t0, c0 = time.perf_counter(), time.process_time()
            result = evaluate(store, "bench", list(SYSTEMS), seed=0)
            warm, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
            metrics.features.cache_clear()
            t0, c0 = time.perf_counter(), time.process_time()
            evaluate(store, "bench", list(SYSTEMS), seed=0, resamples=1)
            no_boot, no_boot_cpu = time.perf_counter() - t0, time.process_time() - c0
        # CPU time is what the code costs; wall time also counts other processes
        # competing for the cores, so both are printed and the target is judged on CPU.
        ok = warm_cpu <= TARGET_S
        print(f"evaluation, {ITEMS} items x {len(SYSTEMS)} systems, features cached: {warm:6.2f} s wall, "
              f"{warm_cpu:.2f} s CPU (target {TARGET_S:.0f} s: {'met' if ok else 'MISSED'})")
        print(f"  of which bootstrap (1000 resamples, every category, 3 pairs): {warm - no_boot:6.2f} s wall, "
              f"{warm_cpu - no_boot_cpu:.2f} s CPU")
        print("  overall: " + ", ".join(
            f"{s} {result.overall.systems[s].avg_length_diff:.2f} words" for s in SYSTEMS))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
