"""The command line's start: ``attune --help`` and ``attune stats`` (issue 12, part 6 and 3).

``python -m tests.benchmarks startup``. Each figure is the median CPU time
(user + system, from ``wait4``) of several fresh ``attune`` processes, beside
its floor in the same run:

- ``attune --help`` against a bare interpreter (``python -c pass``, the same
  venv and site-packages): target 0.08 s;
- ``attune stats`` on an empty workspace, same floor: target 0.12 s;
- ``attune stats`` on the benchmark workspace (1M turns) against the same
  interpreter counting the turns by role with ``sqlite3`` on a read-only
  connection: target 0.6 s. The first run (routine backup, cold cache) is
  left out.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from tests.benchmarks.common import FULL_SCALE, N_TURNS, RUNS, Row, emit, median, run_process
from tests.benchmarks.corpus import copy_workspace, make_large_workspace

HELP_S = 0.08
STATS_EMPTY_S = 0.12
STATS_LARGE_S = 0.6 if FULL_SCALE else None


def _attune() -> list[str]:
    exe = Path(sys.executable).with_name("attune")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]


def _median_cpu(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    timings = [run_process(argv, env=env) for _ in range(runs)]
    return median([t.cpu for t in timings]), median([t.wall for t in timings])


def main() -> list[Row]:
    runs = max(RUNS, 7)
    env = dict(os.environ)
    env.pop("ATTUNE_HOME", None)
    bare = [sys.executable, "-c", "pass"]
    attune = _attune()
    rows = []
    with tempfile.TemporaryDirectory(prefix="attune-bench-startup-") as tmp:
        empty = Path(tmp) / "empty"
        run_process([*attune, "--home", str(empty), "init"], env=env)
        large = copy_workspace(make_large_workspace(n_turns=N_TURNS), Path(tmp) / "large")
        count = [sys.executable, "-c",
                 "import sqlite3, sys; c = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True); "
                 "print(c.execute('SELECT role, count(*) FROM turns GROUP BY role').fetchall())",
                 str(large / "attune.db")]
        run_process([*attune, "--home", str(large), "stats"], env=env)  # routine backup, caches warm
        floor_cpu, floor_wall = _median_cpu(bare, runs, env)
        for label, argv, target, floor in (
            ("attune --help", [*attune, "--help"], HELP_S, floor_cpu),
            ("attune stats, empty workspace", [*attune, "--home", str(empty), "stats"], STATS_EMPTY_S, floor_cpu),
            (f"attune stats, {N_TURNS:,} turns", [*attune, "--home", str(large), "stats"], STATS_LARGE_S, None),
        ):
            if floor is None:
                floor, fwall = _median_cpu(count, runs, env)
                print(f"floor for {label}: sqlite3 count by role {floor:.3f} s CPU, {fwall:.3f} s wall")
            cpu, wall = _median_cpu(argv, runs, env)
            print(f"{label:<34} {cpu:6.3f} s CPU  {wall:6.3f} s wall (median of {runs}); "
                  f"bare interpreter {floor_cpu:.3f} s CPU, {floor_wall:.3f} s wall", flush=True)
            rows.append(Row(f"{label} (CPU)", cpu, "s", floor=floor, target=target))
    return rows


if __name__ == "__main__":
    emit(main())
