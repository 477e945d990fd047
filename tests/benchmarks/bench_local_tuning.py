"""Local LoRA training and generation speed on this machine (CPU here; CUDA when one is present).

Two models: the tiny random one the tests use (the code's own overhead) and
the embedded SmolLM2-135M-Instruct (what a user gets), each through the real
path: a tuning job in its worker process, then ``generate_for_dataset``.
Figures: training tokens/s (every token of the padded batches the model saw),
generation new tokens/s, and the wall time of each step. A full AnnoMI run
(~20 minutes on a laptop CPU) runs only with ``ATTUNE_BENCH_ANNOMI=1``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from core import models_local
from core.datasets.builder import build_dataset
from core.datasets.rules import DatasetRules
from core.generation.base import GenerationSettings, generate_for_dataset
from core.store import open_store
from core.tuning import local_lora
from core.tuning.base import get_backend
from tests.benchmarks.common import Row, emit
from tests.core.datasets_fixtures import populate


class _Counting:
    """Counts the tokens a generator produced (its replies, re-tokenised)."""

    def __init__(self, inner) -> None:
        self.inner, self.tokens, self.seconds = inner, 0, 0.0

    def generate(self, prompts, first_ids):
        t0 = time.perf_counter()
        out = self.inner.generate(prompts, first_ids)
        self.seconds += time.perf_counter() - t0
        self.tokens += sum(len(self.inner._tok(t, add_special_tokens=False)["input_ids"]) for t in out)
        return out

    def describe(self):
        return self.inner.describe()

    def prepare(self, store, record):
        self.inner.prepare(store, record)


def _one(label: str, base: str, root: Path, *, sessions: int, epochs: int, gen_items: int) -> list[Row]:
    from core.generation.local import LocalGenerator

    with open_store(root / label) as store:
        populate(store, sessions, seed=5)
        build_dataset(store, "bench", DatasetRules(split=(70, 15, 15), session_rules=()))
        t0 = time.perf_counter()
        job = get_backend("local").start(store, "bench", {"base": base, "epochs": epochs})
        job = local_lora.wait(store, job, interval=0.5)
        wall = time.perf_counter() - t0
        if job.state != "succeeded":
            raise SystemExit(f"{label}: tuning {job.state}: {job.error}")
        m = job.metrics
        print(f"{label}: {m['train_examples']} train examples × {epochs} epochs = {m['total_steps']} steps on "
              f"{m['device']}, {m['tokens_per_s']} tokens/s, training {m['elapsed_s']} s, job wall {wall:.1f} s, "
              f"val loss {m['val_loss']}")
        # Raw decoding speed: every generated token counts (no cut to the last full sentence),
        # and loading the model is timed apart.
        settings = GenerationSettings(temperature=0.7, max_new_tokens=64, min_new_tokens=0, batch_size=4,
                                      finish_sentences=False)
        gen = _Counting(LocalGenerator(models_local.resolve(base), settings, adapter=job.output))
        t0 = time.perf_counter()
        gen.inner._load()
        print(f"{label}: model and adapter loaded in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        generate_for_dataset(store, "bench", job.system_name, "tuned_model", gen, settings, limit=gen_items)
        gen_wall = time.perf_counter() - t0
        print(f"{label}: {gen_items} replies, {gen.tokens} new tokens in {gen.seconds:.1f} s "
              f"({gen.tokens / gen.seconds:.1f} tokens/s; {gen_wall:.1f} s with loading and storing)")
    return [
        Row(f"{label} training tokens/s ({m['device']})", float(m["tokens_per_s"]), "tok/s"),
        Row(f"{label} training wall ({m['total_steps']} steps)", float(m["elapsed_s"]), "s"),
        Row(f"{label} generation tokens/s", gen.tokens / gen.seconds, "tok/s"),
    ]


def main() -> list[Row]:
    if models_local.missing_extra():
        raise SystemExit(models_local.missing_extra())
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        from tests.core.local_model_fixtures import make_tiny_model

        tiny = make_tiny_model(root / "tiny")
        rows += _one("tiny", str(tiny), root, sessions=30, epochs=2, gen_items=16)
        try:
            models_local.resolve("default")
        except Exception as exc:  # noqa: BLE001 - the embedded model is optional
            print(f"SmolLM2 skipped: {exc}")
        else:
            sessions = int(os.environ.get("ATTUNE_BENCH_SMOL_SESSIONS", "4"))
            rows += _one("smollm2", "default", root, sessions=sessions, epochs=1, gen_items=4)
    return rows


if __name__ == "__main__":
    emit(main())
