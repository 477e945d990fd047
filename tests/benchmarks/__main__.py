"""``make bench``: run every benchmark module in this folder and print its figures.

Benchmarks are never collected by ``make test``; each ``bench_*.py`` has a
``main()`` that prints its own figures.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = sys.argv[1:]
    failed = 0
    for name in names:
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"== {name}", flush=True)
        rc = importlib.import_module(f"tests.benchmarks.{name}").main()
        failed += bool(rc)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
