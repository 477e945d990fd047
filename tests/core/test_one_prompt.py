"""One source of prompts: the export's test files, evaluation's items and a generator
send a model byte-identical prompts for the same item, all rendered by ``formats.prompt``
(issue 13, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.datasets import DatasetRules, build_dataset, export_dataset, formats, items
from core.datasets.items import eval_items, item_prompt, prompts_for_test_items
from core.demo import ensure_demo_imported
from core.evaluation import evaluate
from core.evaluation.responses import NewReply, save_replies


@pytest.fixture
def demo_dataset(store):
    ensure_demo_imported(store)
    return build_dataset(store, "one-prompt", DatasetRules(split=(60, 20, 20), include_demo=True))


class StubGenerator:
    """A generator as core/generation writes them, minus the network: asks for prompts, keeps the request bytes."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.sent: dict[str, bytes] = {}

    def run(self, store, record) -> None:
        prompts = prompts_for_test_items(store, record, self.fmt)
        for example_id, prompt in prompts.items():
            self.sent[example_id] = formats.dumps_line(prompt)
        save_replies(store, "stub", [NewReply(eid, "How has that been for you?") for eid in prompts],
                     kind="base_model", provenance={"generator": "stub", "format": self.fmt})


def test_export_evaluation_and_generation_send_the_same_bytes(store, demo_dataset, tmp_path: Path,
                                                             monkeypatch) -> None:
    # Count who renders prompts: every path below must come through formats.prompt.
    callers: list[str] = []
    real_prompt = formats.prompt

    def counting_prompt(fmt, *args, **kwargs):
        callers.append(fmt)
        return real_prompt(fmt, *args, **kwargs)

    monkeypatch.setattr(formats, "prompt", counting_prompt)

    # The build renders every file once; the export copies what it kept.
    dataset = build_dataset(store, "counted", DatasetRules(split=(60, 20, 20), include_demo=True))
    export_dataset(store, dataset.name, tmp_path / "export")
    exported = [json.loads(line) for line in (tmp_path / "export" / "test.jsonl").read_text("utf-8").splitlines()]
    hf_exported = [json.loads(line) for line in (tmp_path / "export" / "hf_test.jsonl").read_text("utf-8").splitlines()]
    from_export = {e["example_id"]: formats.dumps_line({"messages": e["messages"]}) for e in exported}
    assert len(from_export) >= 2 and callers.count("openai") == len(from_export)

    callers.clear()
    test_items = eval_items(store, dataset.id)
    from_evaluation = {i.example_id: formats.dumps_line(item_prompt(dataset, i, "openai")) for i in test_items}
    assert callers == ["openai"] * len(test_items)

    callers.clear()
    generator = StubGenerator("openai")
    generator.run(store, dataset)
    assert callers == ["openai"] * len(test_items)

    assert from_export == from_evaluation == generator.sent
    # The Hugging Face test file's prompt half is the hf prompt of the same item, byte for byte.
    by_id = {i.example_id: i for i in test_items}
    for line, e in zip(hf_exported, exported, strict=True):
        assert formats.dumps_line({"prompt": line["prompt"]}) == formats.dumps_line(
            item_prompt(dataset, by_id[e["example_id"]], "hf"))
    # And the stub's replies are evaluated like any other system's.
    result = evaluate(store, dataset.name, ["stub"], resamples=10, min_items=1)
    assert result.overall.systems["stub"].n == len(test_items)


def test_a_prompt_is_the_training_line_minus_its_target(demo_dataset, store) -> None:
    """The same renderer writes training lines: a context's prompt is the line up to its target.

    (OpenAI lines also mark earlier therapist turns ``"weight":0``, training-only, so only
    the formats without training marks are compared here.)
    """
    for item in eval_items(store, demo_dataset.id)[:3]:
        context = items.as_messages(item.context)
        for fmt in ("vertex", "hf"):
            prompt = formats.dumps_line(item_prompt(demo_dataset, item, fmt)).rstrip(b"\n")
            line = formats.training_line(fmt, demo_dataset.system_instruction, context, item.reference,
                                         demo_dataset.rules.get("vertex_form", formats.DEFAULT_VERTEX_FORM))
            assert line.startswith(prompt[:-2]), fmt  # all but the closing brackets
