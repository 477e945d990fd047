"""The benchmark cache drops workspaces of older schemas, but not one in use."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.benchmarks.corpus import STALE_AFTER_S, _prune_stale


def _built(root: Path, name: str, age_s: float) -> Path:
    ws = root / name
    ws.mkdir()
    (ws / ".complete").write_text("{}")
    then = time.time() - age_s
    os.utime(ws / ".complete", (then, then))
    return ws


def test_only_unused_workspaces_of_other_schemas_of_the_same_corpus_go(tmp_path: Path) -> None:
    prefix = "large-1000-s0-annomi-g3"
    current = _built(tmp_path, f"{prefix}-mnew", 2 * STALE_AFTER_S)
    stale = _built(tmp_path, f"{prefix}-mold", 2 * STALE_AFTER_S)
    recent = _built(tmp_path, f"{prefix}-mother", 60)
    other_corpus = _built(tmp_path, "large-2000-s0-annomi-g3-mold", 2 * STALE_AFTER_S)
    half_built = tmp_path / f"{prefix}-mhalf"
    half_built.mkdir()

    _prune_stale(tmp_path, prefix, keep=current)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (current, recent, other_corpus, half_built)
    )
    assert not stale.exists()
