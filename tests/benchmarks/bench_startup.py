"""The command line's start: ``attune --help`` and ``attune stats`` (issue 12, part 6 and 3).

``python -m tests.benchmarks startup``. Each figure is the median CPU time
(user + system, from ``wait4``) of several fresh ``attune`` processes, beside
its floor in the same run, their runs taken in turn (a figure's run, then its
floor's) so both see the same neighbours, after one unmeasured run of each
(file and bytecode caches warm, as for an installed app):

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

from tests.benchmarks.common import FULL_SCALE, N_TURNS, RUNS, Row, Timed, emit, median, run_process
from tests.benchmarks.corpus import copy_workspace, make_large_workspace

HELP_S = 0.08
STATS_EMPTY_S = 0.12
STATS_LARGE_S = 0.6 if FULL_SCALE else None


def _attune() -> list[str]:
    exe = Path(sys.executable).with_name("attune")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]


def _paired_medians(argv: list[str], floor: list[str], runs: int, env: dict[str, str]) -> tuple[Timed, Timed]:
    """Median CPU and wall of ``argv`` and of its floor, their runs taken in turn.

    Alternating keeps a neighbour's burst from landing on one side only, so
    the ratio compares the two under the same load.
    """
    run_process(floor, env=env)  # not measured: fills the OS file cache and the bytecode cache
    run_process(argv, env=env)
    fig, flo = [], []
    for _ in range(runs):
        flo.append(run_process(floor, env=env))
        fig.append(run_process(argv, env=env))
    return (Timed(median([t.wall for t in fig]), median([t.cpu for t in fig])),
            Timed(median([t.wall for t in flo]), median([t.cpu for t in flo])))


def main() -> list[Row]:
    runs = max(RUNS, 7)
    env = dict(os.environ)
    env.pop("ATTUNE_HOME", None)
    bare = [sys.executable, "-c", "pass"]
    attune = _attune()
    rows = []
    with tempfile.TemporaryDirectory(prefix="attune-bench-startup-") as tmp:
        # Measure start-up as installed, from compiled bytecode: with PYTHONDONTWRITEBYTECODE
        # set (as in some shells and CI) every run would compile each module edited since
        # its last .pyc, ~15 ms of "start-up" no user pays. The cache lives in this run's
        # temporary folder, so the working tree is not written to.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        empty = Path(tmp) / "empty"
        run_process([*attune, "--home", str(empty), "init"], env=env)
        large = copy_workspace(make_large_workspace(n_turns=N_TURNS), Path(tmp) / "large")
        count = [sys.executable, "-c",
                 "import sqlite3, sys; c = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True); "
                 "print(c.execute('SELECT role, count(*) FROM turns GROUP BY role').fetchall())",
                 str(large / "attune.db")]
        run_process([*attune, "--home", str(large), "stats"], env=env)  # routine backup, caches warm
        for label, argv, target, floor_argv, floor_name in (
            ("attune --help", [*attune, "--help"], HELP_S, bare, "bare interpreter"),
            ("attune stats, empty workspace", [*attune, "--home", str(empty), "stats"], STATS_EMPTY_S, bare,
             "bare interpreter"),
            (f"attune stats, {N_TURNS:,} turns", [*attune, "--home", str(large), "stats"], STATS_LARGE_S, count,
             "sqlite3 count by role"),
        ):
            fig, floor = _paired_medians(argv, floor_argv, runs, env)
            print(f"{label:<34} {fig.cpu:6.3f} s CPU  {fig.wall:6.3f} s wall (median of {runs}); "
                  f"{floor_name} {floor.cpu:.3f} s CPU, {floor.wall:.3f} s wall (runs in turn)", flush=True)
            rows.append(Row(f"{label} (CPU)", fig.cpu, "s", floor=floor.cpu, target=target))
    return rows


if __name__ == "__main__":
    emit(main())
