"""Importing ~13,000 AnnoMI-CSV files (~1,000,000 turns) against its physical floor.

``python -m tests.benchmarks import`` (``ATTUNE_BENCH_TURNS=77000`` for a
quick run: one file per ~77 turns). Two sides, each in a fresh process per
run so neither's memory or caches leak into the other:

- the product: ``import_paths`` into a fresh workspace (read, sniff, parse,
  clean, hash, dedupe, batch commits, import log, full-text index);
- the physical floor: the same files read with ``csv`` and ``executemany``d
  into one plain table (no index, no trigger) under the same pragmas (WAL,
  synchronous=FULL, the import's page cache), committed once.

Targets (issue 12): the import takes ≤ 3× the floor's CPU time and peaks
under 200 MB (the process's own ``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import N_TURNS, Row, emit, median, peak_mb, run_child
from tests.benchmarks.corpus import MEAN_TURNS_PER_SESSION, default_cache_root, source_kind, write_annomi_corpus

MODULE = "tests.benchmarks.bench_import"
RATIO_TARGET = 3.0
PEAK_MB_TARGET = 200.0
RUNS = 3


def _side_import(corpus: Path, workspace: Path) -> dict:
    from core.importing import import_paths
    from core.store import open_store

    with open_store(workspace) as store:
        t0, c0 = time.perf_counter(), time.process_time()
        report = import_paths(store, [corpus])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        turns = store.conn.execute("SELECT count(*) FROM turns").fetchone()[0]
        indexed = store.conn.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'the'").fetchone()[0]
    return {
        "wall": wall, "cpu": cpu, "files": len(report.files), "failed": len(report.failed),
        "first_failure": report.failed[0].line() if report.failed else "",
        "transcripts": report.imported_transcripts, "turns": turns, "indexed_the": indexed,
        "peak_mb": peak_mb(),
    }


def _side_floor(corpus: Path, workspace: Path) -> dict:
    """csv → executemany into a plain table, same pragmas as the product's connection."""
    import csv
    import sqlite3

    from core.importing import expand_paths
    from core.store.transcripts import IMPORT_CACHE_KIB

    workspace.mkdir(parents=True)
    t0, c0 = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(workspace / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")  # the page cache the import runs with
    conn.execute("CREATE TABLE turns (file INTEGER, position INTEGER, speaker TEXT, text TEXT)")
    conn.execute("BEGIN")
    turns = 0
    for n, path in enumerate(expand_paths([corpus])):
        with path.open(newline="", encoding="utf-8") as f:
            rows = [(n, int(r["utterance_id"]), r["interlocutor"], r["utterance_text"]) for r in csv.DictReader(f)]
        conn.executemany("INSERT INTO turns VALUES (?, ?, ?, ?)", rows)
        turns += len(rows)
    conn.execute("COMMIT")
    conn.close()
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "turns": turns,
            "peak_mb": peak_mb()}


def _db_mb(workspace: Path) -> float:
    return sum(p.stat().st_size for p in workspace.glob("*.db*")) / 1e6


def main(n_turns: int = N_TURNS, runs: int = RUNS) -> list[Row]:
    n_files = max(1, round(n_turns / MEAN_TURNS_PER_SESSION))
    corpus_dir = default_cache_root() / f"annomi-corpus-{n_files}-{source_kind()}"
    t0 = time.perf_counter()
    files = write_annomi_corpus(corpus_dir, n_files=n_files, seed=0)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"corpus: {len(files)} AnnoMI-CSV files, {size_mb:.0f} MB, in {corpus_dir} "
          f"(ready in {time.perf_counter() - t0:.1f} s; source: {source_kind()})", flush=True)
    imports, floors = [], []
    for run in range(runs):
        tmp = Path(tempfile.mkdtemp(prefix="attune-bench-import-"))
        try:
            # Alternate the sides so a noisy neighbour hurts both alike.
            floors.append(run_child(MODULE, "--side", "floor", str(corpus_dir), str(tmp / "floor")))
            imports.append(run_child(MODULE, "--side", "import", str(corpus_dir), str(tmp / "imported")))
            db_mb = _db_mb(tmp / "imported")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        i, f = imports[-1], floors[-1]
        print(f"run {run}: import {i['wall']:6.1f} s wall {i['cpu']:6.1f} s CPU, peak {i['peak_mb']:.0f} MB, "
              f"db {db_mb:.0f} MB | floor {f['wall']:6.1f} s wall {f['cpu']:6.1f} s CPU, peak {f['peak_mb']:.0f} MB",
              flush=True)
    i = imports[-1]
    if i["failed"]:
        print(f"  {i['failed']} files failed, e.g. {i['first_failure']}")
    print(f"imported {i['transcripts']} transcripts, {i['turns']} turns "
          f"({i['turns'] / median([x['wall'] for x in imports]):,.0f} turns/s wall); "
          f"floor {floors[-1]['turns']} csv rows (the importer drops empty ones); {i['indexed_the']} turns found by a search for 'the'")
    return [
        Row(f"import {i['turns']:,} turns, CPU", median([x["cpu"] for x in imports]), "s",
            floor=median([x["cpu"] for x in floors]), ratio_target=RATIO_TARGET),
        Row("import, wall (not judged: shared machine)", median([x["wall"] for x in imports]), "s",
            floor=median([x["wall"] for x in floors])),
        Row("import peak memory (VmHWM)", max(x["peak_mb"] for x in imports), "MB",
            floor=max(x["peak_mb"] for x in floors), target=PEAK_MB_TARGET),
        Row("import: files that failed", float(i["failed"]), "files", target=0),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="import benchmark")
    parser.add_argument("--side", choices=["import", "floor"])
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    if args.side:
        fn = _side_import if args.side == "import" else _side_floor
        print(json.dumps(fn(Path(args.paths[0]), Path(args.paths[1]))))
        sys.exit(0)
    emit(main())
