"""Importing ~13,000 AnnoMI-CSV files (~1,000,000 turns) against a bare insert.

``python -m tests.benchmarks import`` (or ``python -m tests.benchmarks.bench_import
--files 2000`` for a quicker run). Targets (issue 2): the real pipeline
(``import_paths``: read, sniff, parse, clean, hash, dedupe, per-file
savepoints, import log) takes at most 2x a bare ``executemany`` of the same
final rows into a fresh workspace (same schema incl. FTS triggers, same
pragmas, one transaction), and peaks under 500 MB.

Each side runs in its own subprocess so their memory peaks don't mix; peak
RSS is the ``getrusage`` high-water mark of that subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.corpus import default_cache_root, source_kind, write_annomi_corpus

N_FILES = int(os.environ.get("ATTUNE_BENCH_IMPORT_FILES", "13000"))
RATIO_TARGET = 2.0
PEAK_MB_TARGET = 500.0


def _peak_mb() -> float:
    """This process's RSS high-water mark in MB (Linux reports KB, macOS bytes)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


# The two sides, each run as ``python -m tests.benchmarks.bench_import --side ...``


def _side_import(corpus: Path, workspace: Path) -> dict:
    from core.importing import import_paths
    from core.store import open_store

    with open_store(workspace) as store:
        t0 = time.perf_counter()
        report = import_paths(store, [corpus])
        seconds = time.perf_counter() - t0
        turns = store.conn.execute("SELECT count(*) FROM turns").fetchone()[0]
    return {
        "seconds": seconds,
        "files": len(report.files),
        "failed": len(report.failed),
        "first_failure": report.failed[0].line() if report.failed else "",
        "transcripts": report.imported_transcripts,
        "turns": turns,
        "peak_mb": _peak_mb(),
    }


def _side_bare(source: Path, workspace: Path) -> dict:
    """The same final rows, read back from the imported workspace, inserted bare."""
    import sqlite3

    from core.store import open_store

    src = sqlite3.connect(source)
    tables = {}
    for table in ("transcripts", "turns", "import_log"):
        cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        tables[table] = (cols, src.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id").fetchall())
    src.close()
    with open_store(workspace) as store:  # same schema, same pragmas
        conn = store.conn
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for table, (cols, rows) in tables.items():
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows
            )
        conn.execute("COMMIT")
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "turns": len(tables["turns"][1]), "peak_mb": _peak_mb()}


def _run_side(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_import", *args],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark side {args[1]} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _db_mb(workspace: Path) -> float:
    return sum(p.stat().st_size for p in workspace.glob("attune.db*")) / 1e6


def run(n_files: int, keep: bool = False) -> int:
    corpus_dir = default_cache_root() / f"annomi-corpus-{n_files}-{source_kind()}"
    t0 = time.perf_counter()
    files = write_annomi_corpus(corpus_dir, n_files=n_files, seed=0)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"corpus: {len(files)} AnnoMI-CSV files, {size_mb:.0f} MB, in {corpus_dir} "
          f"(ready in {time.perf_counter() - t0:.1f} s; source: {source_kind()})", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="attune-bench-import-"))
    try:
        imported = _run_side("--side", "import", str(corpus_dir), str(tmp / "imported"))
        if imported["failed"]:
            print(f"  {imported['failed']} files failed, e.g. {imported['first_failure']}")
        bare = _run_side("--side", "bare", str(tmp / "imported" / "attune.db"), str(tmp / "bare"))
        ratio = imported["seconds"] / bare["seconds"]
        peak = imported["peak_mb"]
        print(f"import_paths : {imported['seconds']:7.1f} s  {imported['transcripts']} transcripts, "
              f"{imported['turns']} turns, {imported['turns'] / imported['seconds']:,.0f} turns/s, "
              f"peak RSS {peak:.0f} MB, db {_db_mb(tmp / 'imported'):.0f} MB")
        print(f"bare insert  : {bare['seconds']:7.1f} s  {bare['turns']} turns, "
              f"peak RSS {bare['peak_mb']:.0f} MB (holds every row in memory)")
        print(f"ratio        : {ratio:.2f}x  (target <= {RATIO_TARGET:.1f}x: "
              f"{'met' if ratio <= RATIO_TARGET else 'MISSED'})")
        print(f"import peak  : {peak:.0f} MB  (target < {PEAK_MB_TARGET:.0f} MB: "
              f"{'met' if peak < PEAK_MB_TARGET else 'MISSED'})")
        if keep:
            print(f"workspaces kept in {tmp}")
        ok = imported["failed"] == 0 and imported["turns"] == bare["turns"]
        return 0 if ok else 1
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="import benchmark")
    parser.add_argument("--files", type=int, default=N_FILES)
    parser.add_argument("--keep", action="store_true", help="keep the two workspaces")
    parser.add_argument("--side", choices=["import", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.side == "import":
        print(json.dumps(_side_import(Path(args.paths[0]), Path(args.paths[1]))))
        return 0
    if args.side == "bare":
        print(json.dumps(_side_bare(Path(args.paths[0]), Path(args.paths[1]))))
        return 0
    return run(args.files, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
