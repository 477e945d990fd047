"""What every benchmark shares: scale, runs, memory, timing, and the result rows.

Each benchmark module's ``main()`` returns a list of ``Row``: a figure beside
its physical floor (the same work done the simplest way the machine allows,
measured in the same run) and its target. ``python -m tests.benchmarks``
runs every module in a fresh process and prints one table of them all.

Honesty rules the helpers enforce:

- peak memory is the measuring process's own high-water mark (``VmHWM`` in
  ``/proc/self/status``); ``ru_maxrss`` is not used on Linux, because a child
  inherits its parent's figure across fork+exec;
- a figure is the median of several runs, judged on CPU time where the work
  is single-threaded (9 processes share 2 cores here; wall time measures the
  neighbours), with wall time printed beside it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

# Scale: ``ATTUNE_BENCH_TURNS=50000 make bench`` for a quick run; the targets are set at 1M.
N_TURNS = int(os.environ.get("ATTUNE_BENCH_TURNS", "1000000"))
RUNS = int(os.environ.get("ATTUNE_BENCH_RUNS", "5"))
FULL_SCALE = N_TURNS >= 1_000_000


@dataclass(slots=True)
class Row:
    """One line of the table. ``ok`` when value ≤ target and value / floor ≤ ratio_target."""

    figure: str
    value: float
    unit: str
    floor: float | None = None
    target: float | None = None
    ratio_target: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.floor if self.floor else None

    @property
    def ok(self) -> bool:
        if self.target is not None and self.value > self.target:
            return False
        return not (self.ratio_target is not None and self.ratio is not None and self.ratio > self.ratio_target)

    def target_text(self) -> str:
        parts = []
        if self.target is not None:
            parts.append(f"≤ {self.target:g} {self.unit}")
        if self.ratio_target is not None:
            parts.append(f"≤ {self.ratio_target:g}× floor")
        return ", ".join(parts) or "-"


def rows_to_json(rows: Sequence[Row]) -> str:
    return json.dumps([asdict(r) for r in rows])


def rows_from_json(text: str) -> list[Row]:
    return [Row(**d) for d in json.loads(text)]


def format_table(rows: Sequence[Row]) -> str:
    def num(v: float | None) -> str:
        if v is None:
            return "-"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"

    header = ("figure", "value", "floor", "ratio", "target", "")
    cells = [header] + [
        (r.figure, f"{num(r.value)} {r.unit}", f"{num(r.floor)} {r.unit}" if r.floor else "-",
         f"{r.ratio:.2f}×" if r.ratio is not None else "-", r.target_text(), "ok" if r.ok else "MISSED")
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# Memory #######################################################################


def peak_mb() -> float:
    """This process's own resident high-water mark in MB.

    ``VmHWM`` is per process and starts afresh at exec; ``ru_maxrss`` (the
    fallback off Linux) carries the parent's peak into a forked child.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


# Timing #######################################################################


@dataclass(slots=True)
class Timed:
    wall: float
    cpu: float


def timed(fn: Callable[[], object]) -> Timed:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return Timed(time.perf_counter() - t0, time.process_time() - c0)


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_child(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> dict:
    """``python -m module *args`` in a fresh process; its last stdout line is a JSON object."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, check=False, env=env, timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_process(argv: Sequence[str], env: dict[str, str] | None = None) -> Timed:
    """Run a command to completion: its wall time and its own CPU time (user + system)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err[-2000:]}")
    return Timed(wall, usage.ru_utime + usage.ru_stime)


def emit(rows: Sequence[Row]) -> list[Row]:
    """Print a module's own rows (when run alone) and hand them to the runner."""
    out = os.environ.get("ATTUNE_BENCH_ROWS")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(rows_to_json(rows))
    else:
        print(format_table(rows))
    return list(rows)
