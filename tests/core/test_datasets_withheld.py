"""What a clinician withheld never leaves the workspace, and loss lands on the target alone.

On real AnnoMI: one client turn and one therapist turn excluded for
"identifying information" appear in no exported file, no evaluation item, no
generation prompt and no evaluation report, and the card counts the examples
they shortened and dropped. Every format is checked on a real build, and the
generation prompt of a test item equals its training-format prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import main
from core.datasets import formats
from core.datasets.items import eval_items, load_withheld, prompts_for_test_items, stored_example
from core.datasets.targets import Message
from core.store import Store, open_store
from core.store import datasets as ds_store
from tests.conftest import ANNOMI_SIMPLE, needs_annomi
from tests.core.test_datasets_export import check_folder, read_jsonl

pytestmark = needs_annomi


def strings(obj: Any) -> Iterator[str]:
    """Every string inside a decoded JSON value (keys too)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v)


def folder_texts(folder: Path) -> Iterator[tuple[str, str]]:
    """(file, text) for every file under ``folder``: raw text, and each JSON string decoded."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_text("utf-8")
        yield path.name, raw
        if path.suffix == ".jsonl":
            for line in raw.splitlines():
                for s in strings(json.loads(line)):
                    yield path.name, s
        elif path.suffix == ".json":
            for s in strings(json.loads(raw)):
                yield path.name, s


def _unique_turn(store: Store, role: str, min_words: int, avoid: set[int], wanted: set[int]) -> tuple[int, str]:
    """A turn of ``role`` among ``wanted`` whose text occurs inside no other turn (so a grep is meaningful)."""
    texts = dict(store.conn.execute("SELECT id, text FROM turns").fetchall())
    roles = dict(store.conn.execute("SELECT id, role FROM turns").fetchall())
    for tid in sorted(wanted):
        text = texts[tid]
        if roles[tid] != role or tid in avoid or len(text.split()) < min_words:
            continue
        if not any(text in other for oid, other in texts.items() if oid != tid):
            return tid, text
    pytest.fail(f"no distinctive {role} turn in the AnnoMI contexts")


@pytest.fixture(scope="module")
def annomi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("annomi") / "ws"
    assert main(["--home", str(home), "import", str(ANNOMI_SIMPLE)]) == 0
    return home


def test_excluded_turns_reach_no_file_no_prompt_and_the_card_counts_them(
    annomi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(annomi)]
    assert main([*home, "dataset", "build", "before", "--freeze-test"]) == 0
    with open_store(annomi) as store:
        before = ds_store.get_dataset(store, "before")
        rows = ds_store.examples_of(store, before.id)
        in_context = {t for r in rows for t in r.context_turn_ids}
        targets = {r.turn_id for r in rows}
        # a client turn right before some target (its example is dropped, later ones shortened) ...
        last_clients = {r.context_turn_ids[-1] for r in rows if len(r.context_turn_ids) >= 3}
        client, client_text = _unique_turn(store, "client", 8, set(), last_clients)
        # ... and a 50+-word therapist turn that is both a target and in another example's context
        therapist, therapist_text = _unique_turn(store, "therapist", 50, {client}, targets & in_context)
    assert main([*home, "dataset", "export", "before", "--out", str(tmp_path / "before")]) == 0
    seen = {name for name, text in folder_texts(tmp_path / "before") if client_text in text or therapist_text in text}
    assert seen, "the chosen turns were not in the first export: the test could not fail"

    # What the rules say should happen, worked out from the first build alone.
    withheld = {client, therapist}
    shortened = dropped = 0
    for r in rows:
        if r.turn_id == therapist:
            continue
        ctx = list(r.context_turn_ids)
        hit = [i for i, t in enumerate(ctx) if t in withheld]
        if not hit:
            continue
        if hit[-1] == len(ctx) - 1:
            dropped += 1
        else:
            shortened += 1
    assert dropped >= 1 and shortened >= 1

    capsys.readouterr()
    assert main([*home, "exclude", str(client), str(therapist), "--reason", "identifying"]) == 0
    assert "excluded 2 turns: identifying information" in capsys.readouterr().out
    # The frozen test split is rebuilt from the store under today's decisions: a
    # dataset built before the exclusion no longer exports (its files would change).
    assert main([*home, "dataset", "export", "before", "--out", str(tmp_path / "stale")]) != 0
    assert "no longer match" in capsys.readouterr().err
    assert not (tmp_path / "stale" / "openai_train.jsonl").exists()

    assert main([*home, "dataset", "build", "after", "--seed", "0"]) == 0
    assert main([*home, "dataset", "export", "after", "--out", str(tmp_path / "after")]) == 0
    out = check_folder(tmp_path / "after")
    assert main([*home, "evaluate", "after", "--systems", "therapist", "--report", str(tmp_path / "report"),
                 "--allow-missing"]) == 0
    capsys.readouterr()
    with open_store(annomi) as store:
        after = ds_store.get_dataset(store, "after")
        items = eval_items(store, after.id)
        prompts = {fmt: prompts_for_test_items(store, after, fmt) for fmt in formats.FORMATS}
    # Neither text anywhere: exported files, evaluation items, generation prompts, reports.
    for name, text in [*folder_texts(tmp_path / "after"), *folder_texts(tmp_path / "report")]:
        assert client_text not in text and therapist_text not in text, f"excluded text in {name}"
    for item in items:
        for s in [item.reference, *(t for _, t in item.context)]:
            assert client_text not in s and therapist_text not in s
    for per_item in prompts.values():
        blob = json.dumps(per_item, ensure_ascii=False)
        assert client_text not in blob and therapist_text not in blob
    assert len(items) == len(out["test.jsonl"]) and items

    # The card's counts match the rules worked out above.
    cuts = after.counts["context_cuts"]
    assert cuts == {"shortened": {"identifying information": shortened},
                    "dropped": {"identifying information": dropped}}
    assert after.counts["removed"]["excluded_context"] == dropped
    assert after.counts["removed"]["excluded"] >= 1  # the therapist turn, a target before
    card = (tmp_path / "after" / "DATASET.md").read_text("utf-8")
    assert f"| identifying information | {shortened} | {dropped} |" in card
    assert main([*home, "dataset", "show", "after"]) == 0
    assert f"identifying information: {shortened}, {dropped}" in capsys.readouterr().out


def _without_weights(messages: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "weight"} for m in messages]


@pytest.mark.parametrize("vertex_form", ["transcript", "multi_turn"])
def test_each_format_trains_on_the_target_and_prompts_match(annomi: Path, tmp_path: Path, vertex_form: str) -> None:
    name = f"fmt-{vertex_form}"
    home = ["--home", str(annomi)]
    assert main([*home, "dataset", "build", name, "--vertex-form", vertex_form.replace("_", "-")]) == 0
    assert main([*home, "dataset", "export", name, "--out", str(tmp_path / "out")]) == 0
    out = check_folder(tmp_path / "out", vertex_form)  # strict shapes, weights included
    card = (tmp_path / "out" / "DATASET.md").read_text("utf-8")
    assert "## What carries the loss" in card
    with open_store(annomi) as store:
        record = ds_store.get_dataset(store, name)
        rows = ds_store.examples_of(store, record.id)
        texts = ds_store.turn_texts(store, {t for r in rows for t in (r.turn_id, *r.context_turn_ids)})
        prompts = {fmt: prompts_for_test_items(store, record, fmt) for fmt in formats.FORMATS}
        withheld = load_withheld(store)
    by_id = {r.example_id: r for r in rows}
    manifest = out["manifest.jsonl"]
    train = [m for m in manifest if m["split"] == "train"]
    multi_context = 0
    system = record.system_instruction
    for m, openai, hf, vertex in zip(train, out["openai_train.jsonl"], out["hf_train.jsonl"],
                                     out["vertex_train.jsonl"], strict=True):
        row = by_id[m["example_id"]]
        ex = stored_example(row, texts, withheld).example
        assert ex is not None
        # OpenAI: every assistant message but the last has weight 0, the target weight 1
        assistants = [msg for msg in openai["messages"] if msg["role"] == "assistant"]
        assert [a["weight"] for a in assistants] == [0] * (len(assistants) - 1) + [1]
        assert assistants[-1]["content"] == ex.target
        multi_context += len(assistants) > 1
        # Hugging Face: prompt-completion, the completion is the target alone
        assert hf["completion"] == [{"role": "assistant", "content": ex.target}]
        assert hf["prompt"] == _without_weights(openai["messages"][:-1])
        # Vertex: exactly one model turn (transcript form), the target
        roles = [c["role"] for c in vertex["contents"]]
        assert vertex["contents"][-1]["parts"][0]["text"] == ex.target
        if vertex_form == "transcript":
            assert roles == ["user", "model"]
            transcript = vertex["contents"][0]["parts"][0]["text"]
            assert transcript.startswith("Client: ")
            assert [b.split(": ", 1)[0] for b in transcript.split("\n\n") if re.match(r"^(Client|Therapist): ", b)] \
                == [{"client": "Client", "therapist": "Therapist"}[msg.role] for msg in ex.context]
        else:
            assert roles == [formats.VERTEX_ROLES[msg.role] for msg in ex.context] + ["model"]
        # the generation prompt for this example equals its training line minus the target
        for fmt, line in (("openai", openai), ("hf", hf), ("vertex", vertex)):
            p = formats.prompt(fmt, system, ex.context, vertex_form)
            if fmt == "openai":
                assert p == {"messages": _without_weights(line["messages"][:-1])}
            elif fmt == "hf":
                assert p == {"prompt": line["prompt"]}
            else:
                assert p == {**line, "contents": line["contents"][:-1]}
    assert multi_context > 0, "no example with an earlier therapist turn: the weight check proved nothing"
    # Test items: the prompt evaluation and generation use is the exported one.
    test_ids = [m["example_id"] for m in manifest if m["split"] == "test"]
    assert test_ids and set(prompts["hf"]) == set(test_ids)
    for eid, hf, held in zip(test_ids, out["hf_test.jsonl"], out["test.jsonl"], strict=True):
        assert held["example_id"] == eid
        assert prompts["hf"][eid] == {"prompt": hf["prompt"]}
        assert prompts["openai"][eid] == {"messages": held["messages"]} == {"messages": hf["prompt"]}
        ctx = tuple(Message(("client" if m["role"] == "user" else "therapist"), m["content"], ())
                    for m in held["messages"] if m["role"] != "system")
        line = json.loads(formats.training_line("vertex", system, ctx, held["reference"], vertex_form))
        assert prompts["vertex"][eid] == {**line, "contents": line["contents"][:-1]}
    if vertex_form == "multi_turn":
        assert "every `model` turn" in card and "short turns are trained on too" in card
    else:
        assert "the only `model` turn (the target)" in card


def test_a_redacted_span_reads_redacted_everywhere(annomi: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(annomi)]
    assert main([*home, "dataset", "build", "pre-redact"]) == 0
    with open_store(annomi) as store:
        record = ds_store.get_dataset(store, "pre-redact")
        rows = ds_store.examples_of(store, record.id, "train")
        row = next(r for r in rows if len(r.context_turn_ids) >= 3)
        client = row.context_turn_ids[-1]
        text = ds_store.turn_texts(store, [client])[client][1]
    word = max(text.split(), key=len)
    capsys.readouterr()
    assert main([*home, "redact", str(client), "--text", word]) == 0
    assert "redacted characters" in capsys.readouterr().out
    assert main([*home, "redactions", str(client)]) == 0
    assert word in capsys.readouterr().out
    assert main([*home, "dataset", "build", "post-redact"]) == 0
    assert main([*home, "dataset", "export", "post-redact", "--out", str(tmp_path / "out")]) == 0
    out = read_jsonl(tmp_path / "out" / "openai_train.jsonl") + read_jsonl(tmp_path / "out" / "test.jsonl") \
        + read_jsonl(tmp_path / "out" / "openai_validation.jsonl")
    redacted = text.replace(word, "[redacted]")
    contents = [m["content"] for line in out for m in line["messages"]]
    assert any(redacted in c for c in contents) and not any(text in c for c in contents)
    with open_store(annomi) as store:
        assert ds_store.get_dataset(store, "post-redact").counts["redacted_examples"] >= 1
    # undo brings the words back for the next build
    assert main([*home, "undo"]) == 0
    assert main([*home, "redactions", str(client)]) == 0
    assert "no redactions" in capsys.readouterr().out
