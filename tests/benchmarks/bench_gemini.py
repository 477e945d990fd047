"""Generation throughput against the fake Vertex AI: 1,000 replies at concurrency 8, 200 ms a call.

The floor is the ideal: calls × latency / concurrency = 25 s. The figure is
the wall time of ``core.generation.gemini.run`` (the real google-genai client,
each reply stored as it arrives) from the first request to the last stored
reply. Target: within 1.15× the ideal.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core import egress
from core.datasets import DatasetRules, build_dataset
from core import gemini_connection as gconn
from core.generation import gemini
from core.store import open_store
from tests.benchmarks.common import Row, emit
from tests.core.datasets_fixtures import populate

CALLS = 1000
LATENCY_S = 0.2
CONCURRENCY = 8
RATIO_TARGET = 1.15


def main() -> list[Row]:
    # the fake in its own process: its work must not share this interpreter's lock
    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.gemini_server", str(LATENCY_S)],
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip() if server.stdout else ""
    os.environ.update({"GOOGLE_VERTEX_BASE_URL": url, "STORAGE_EMULATOR_HOST": url, "ATTUNE_ACCESS_TOKEN": "bench"})
    try:
        with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "ws") as store:
            t0 = time.perf_counter()
            populate(store, 420, seed=11)
            build_dataset(store, "bench", DatasetRules(min_words=40, split=(10, 10, 80), session_rules=()))
            conn = gconn.Connection(project="bench", bucket="b")
            gconn.save(store, conn)
            target = gemini.base_target("gemini-2.5-flash")
            manifest = gemini.plan(store, "bench", target, conn)
            print(f"workspace and {len(manifest.payloads)} test items ready in {time.perf_counter() - t0:.1f} s")
            if len(manifest.payloads) < CALLS:
                raise SystemExit(f"only {len(manifest.payloads)} test items; the benchmark needs {CALLS}")
            manifest = dataclasses.replace(manifest, payloads=manifest.payloads[:CALLS])
            approval = egress.confirm(manifest, yes=True)
            t0 = time.perf_counter()
            result = gemini.run(store, approval, conn, target, gemini.Settings(concurrency=CONCURRENCY))
            wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait()
    ideal = CALLS * LATENCY_S / CONCURRENCY
    ok = result.outcomes["ok"]
    print(f"{CALLS} generations at concurrency {CONCURRENCY}, {LATENCY_S * 1000:.0f} ms a call: {wall:.2f} s wall "
          f"(ideal {ideal:.1f} s), ratio {wall / ideal:.3f}; {ok} ok")
    if ok != CALLS:
        raise SystemExit(f"only {ok} of {CALLS} replies were ok")
    return [Row(f"{CALLS} Gemini generations, concurrency {CONCURRENCY}, 200 ms/call (wall)", wall, "s",
                floor=ideal, ratio_target=RATIO_TARGET)]


if __name__ == "__main__":
    emit(main())
