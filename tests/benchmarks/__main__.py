"""``make bench``: every benchmark, each in a fresh process, then one table.

``python -m tests.benchmarks [name ...]`` runs the modules whose names
contain one of the words (all when none). Each module prints its details as
it goes and returns ``Row``s (``tests/benchmarks/common.py``): figure, its
physical floor measured in the same run, the ratio, the target. The runner
prints them as one table and exits 1 when any target is missed or a module
fails. ``ATTUNE_BENCH_TURNS`` scales the corpora down for a quick run.

``--repeat N`` (first) runs the selection N times, judging each run on its
own, prints each figure's spread and exits 0 only if every run passed: the
check behind "passes three runs in a row" (issue 12).

Benchmarks are never collected by ``make test``.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import N_TURNS, Row, format_table, rows_from_json

# Run order; add a new benchmark module here (one line). Modules named
# bench_* that are missing from the list still run, after these.
BENCHES = [
    "bench_import",
    "bench_furniture",
    "bench_startup",
    "bench_gui",
    "bench_decisions",
    "bench_dataset",
    "bench_evaluation",
    "bench_gemini",
    "bench_local_tuning",
]


def _modules() -> list[str]:
    here = Path(__file__).parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    return [n for n in BENCHES if n in found] + [n for n in found if n not in BENCHES]


def main() -> int:
    args = sys.argv[1:]
    repeat = 1
    if args[:1] == ["--repeat"]:
        if len(args) < 2 or not args[1].isdigit() or int(args[1]) < 1:
            print("usage: python -m tests.benchmarks [--repeat N] [name ...]", file=sys.stderr)
            return 2
        repeat, args = int(args[1]), args[2:]
    names = [n for n in _modules() if not args or any(w in n for w in args)]
    if repeat == 1:
        return 0 if _run_once(names)[0] else 1
    # "Passes N runs in a row": every run judged on its own, then the spread of each figure.
    passed, seen = 0, {}
    for i in range(repeat):
        print(f"\n######## run {i + 1} of {repeat}", flush=True)
        ok, rows = _run_once(names)
        passed += ok
        for r in rows:
            seen.setdefault(r.figure, []).append(r)
    print(f"\n== spread over {repeat} runs")
    for figure, rs in seen.items():
        values = [r.value for r in rs]
        missed = sum(not r.ok for r in rs)
        print(f"{figure}: {min(values):.3g}–{max(values):.3g} {rs[0].unit}, target {rs[0].target_text()}"
              f"{f', MISSED in {missed} run(s)' if missed else ''}")
    print(f"passed {passed} of {repeat} runs")
    return 0 if passed == repeat else 1


def _run_once(names: list[str]) -> tuple[bool, list[Row]]:
    """Every module in its own process, one summary table: (every target met, the rows)."""
    table: list[tuple[str, Row]] = []
    failed: list[str] = []
    t_all = time.perf_counter()
    for name in names:
        print(f"== {name} ({N_TURNS:,} turns)", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            rows_file = f.name
        try:
            env = dict(os.environ, ATTUNE_BENCH_ROWS=rows_file, QT_QPA_PLATFORM="offscreen")
            # A fresh process per module: its memory high-water mark is its own.
            rc = subprocess.call([sys.executable, "-m", f"tests.benchmarks.{name}"], env=env)
            text = Path(rows_file).read_text(encoding="utf-8")
        finally:
            Path(rows_file).unlink(missing_ok=True)
        rows = rows_from_json(text) if text.strip() else []
        if rc != 0 or not rows:
            failed.append(f"{name} (exit {rc}{', no figures' if not rows else ''})")
        table.extend((name.removeprefix("bench_"), r) for r in rows)
    print(f"\n== summary ({N_TURNS:,} turns, {time.perf_counter() - t_all:.0f} s)")
    named = [Row(f"{area}: {r.figure}", r.value, r.unit, r.floor, r.target, r.ratio_target, r.note)
             for area, r in table]
    print(format_table(named))
    missed = [r.figure for r in named if not r.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}")
    if missed:
        print(f"MISSED {len(missed)} target(s): {'; '.join(missed)}")
    if not failed and not missed:
        print("every target met")
    return not failed and not missed, named


if __name__ == "__main__":
    sys.exit(main())
