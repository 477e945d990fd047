"""Dataset export: every line valid for its format, byte-identical rebuilds, atomic writes, limits."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from core.datasets import DatasetRules, build_dataset, export_dataset
from core.datasets import formats
from core.datasets.export import ALL_FILES, EXAMPLE_FILES
from core.datasets.targets import Message
from core.errors import OperationCancelled, ValidationError
from core.ids import TurnId
from core.models import Category, ParsedTranscript, Role
from core.progress import TaskState
from core.store import Store, open_store
from core.store import datasets as ds_store
from core.store import transcripts as transcript_store
from core.workspace import DB_FILENAME
from tests.core.datasets_fixtures import add_session, open_populated, turn


@pytest.fixture
def populated(workspace: Path):
    store = open_populated(workspace)
    yield store
    store.close()


def read_jsonl(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path.name}: last line not terminated"
    lines = data.decode("utf-8").splitlines()
    assert all(line.strip() for line in lines), f"{path.name}: blank line"
    return [json.loads(line) for line in lines]


# Strict shape checks, written from the services' documented formats (not from our code).

def check_vertex(obj: dict) -> list[str]:
    assert set(obj) <= {"systemInstruction", "contents"} and "contents" in obj
    if "systemInstruction" in obj:
        si = obj["systemInstruction"]
        assert set(si) == {"parts"} and len(si["parts"]) == 1
        assert set(si["parts"][0]) == {"text"} and isinstance(si["parts"][0]["text"], str)
    roles = []
    for c in obj["contents"]:
        assert set(c) == {"role", "parts"}
        assert c["role"] in ("user", "model")
        assert len(c["parts"]) == 1 and set(c["parts"][0]) == {"text"}
        assert isinstance(c["parts"][0]["text"], str) and c["parts"][0]["text"].strip()
        roles.append(c["role"])
    assert roles[0] == "user" and roles[-1] == "model"
    assert all(a != b for a, b in zip(roles, roles[1:])), roles
    return roles


def check_messages(messages: list, *, ends_with_assistant: bool, weights: bool = False) -> list[str]:
    """Chat messages; with ``weights`` (OpenAI training), every assistant message carries
    ``weight``: 0 on all but the last, 1 on the last (the target)."""
    assert isinstance(messages, list) and messages
    roles = []
    for i, m in enumerate(messages):
        if weights and m["role"] == "assistant":
            assert set(m) == {"role", "content", "weight"}, m
            assert m["weight"] == (1 if i == len(messages) - 1 else 0), m
        else:
            assert set(m) == {"role", "content"}, m
        assert isinstance(m["content"], str) and m["content"].strip()
        assert m["role"] in ("system", "user", "assistant")
        assert m["role"] != "system" or i == 0
        roles.append(m["role"])
    convo = [r for r in roles if r != "system"]
    assert convo[0] == "user"
    assert convo[-1] == ("assistant" if ends_with_assistant else "user")
    assert all(a != b for a, b in zip(convo, convo[1:])), roles
    return roles


def check_prompt_completion(obj: dict) -> None:
    """TRL's conversational prompt-completion form: the completion is the one assistant reply."""
    assert set(obj) == {"prompt", "completion"}
    check_messages(obj["prompt"], ends_with_assistant=False)
    assert len(obj["completion"]) == 1 and set(obj["completion"][0]) == {"role", "content"}
    assert obj["completion"][0]["role"] == "assistant" and obj["completion"][0]["content"].strip()


def check_folder(folder: Path, vertex_form: str = "transcript") -> dict[str, list[dict]]:
    assert sorted(p.name for p in folder.iterdir()) == sorted(ALL_FILES)
    out = {name: read_jsonl(folder / name) for name in EXAMPLE_FILES}
    for split in ("train", "validation"):
        for obj in out[f"vertex_{split}.jsonl"]:
            roles = check_vertex(obj)
            if vertex_form == "transcript":
                assert roles == ["user", "model"]  # the context is one labelled transcript
        for obj in out[f"openai_{split}.jsonl"]:
            assert set(obj) == {"messages"}
            check_messages(obj["messages"], ends_with_assistant=True, weights=True)
        for obj in out[f"hf_{split}.jsonl"]:
            check_prompt_completion(obj)
    for obj in out["hf_test.jsonl"]:
        check_prompt_completion(obj)
    for obj in out["test.jsonl"]:
        assert set(obj) == {"example_id", "category", "client_names", "messages", "reference", "transcript_id", "turn_id"}
        check_messages(obj["messages"], ends_with_assistant=False)
        assert obj["reference"].strip() and isinstance(obj["client_names"], list)
    for obj in out["manifest.jsonl"]:
        assert set(obj) == {"example_id", "split", "transcript_id", "turn_id", "category", "target_words"}
        assert obj["split"] in ("train", "validation", "test")
        assert obj["example_id"].startswith("ex-") and isinstance(obj["target_words"], int)
    return out


def test_every_exported_line_is_valid_and_matches_the_store(populated: Store, tmp_path: Path) -> None:
    record = build_dataset(populated, "d", DatasetRules())
    result = export_dataset(populated, "d", tmp_path / "out")
    out = check_folder(tmp_path / "out")
    rows = {r.example_id: r for r in ds_store.examples_of(populated, record.id)}
    manifest = out["manifest.jsonl"]
    assert sorted(m["example_id"] for m in manifest) == sorted(rows)  # lines in the seeded order
    for m in manifest:
        row = rows[m["example_id"]]
        assert (m["split"], m["turn_id"], m["transcript_id"], m["category"], m["target_words"]) == (
            row.split, row.turn_id, row.transcript_id, row.category, row.target_words)
    splits = record.counts["splits"]
    for split in ("train", "validation"):
        for prefix in ("vertex", "openai", "hf"):
            assert len(out[f"{prefix}_{split}.jsonl"]) == splits[split]
    assert len(out["hf_test.jsonl"]) == len(out["test.jsonl"]) == splits["test"]
    # each training line ends with its target's real text and starts with the system instruction
    train_rows = [rows[m["example_id"]] for m in manifest if m["split"] == "train"]
    for obj, row in zip(out["vertex_train.jsonl"], train_rows, strict=True):
        assert obj["contents"][-1]["parts"][0]["text"] == transcript_store.get_turn(populated, row.turn_id).text
        assert obj["systemInstruction"]["parts"][0]["text"] == record.system_instruction
    for obj in out["test.jsonl"]:
        target = transcript_store.get_turn(populated, obj["turn_id"])
        assert obj["reference"] == target.text
        assert obj["client_names"] == list(transcript_store.get_transcript(populated, target.transcript_id).client_names)
    digest = hashlib.sha256()
    for name in EXAMPLE_FILES:
        digest.update(f"{name}\x00{hashlib.sha256((tmp_path / 'out' / name).read_bytes()).hexdigest()}\n".encode())
    assert digest.hexdigest() == record.content_hash == result.content_hash
    card = (tmp_path / "out" / "DATASET.md").read_text()
    assert record.content_hash in card and "80/10/10" in card
    for cat, per in record.counts["by_category"].items():
        assert f"| {cat} | {per['train']} | {per['validation']} | {per['test']} |" in card
    if os.name == "posix":
        for p in (tmp_path / "out").iterdir():
            assert p.stat().st_mode & 0o077 == 0, p


def test_rebuilding_from_the_same_store_and_rules_is_byte_identical(workspace: Path, tmp_path: Path) -> None:
    open_populated(workspace).close()
    copies = []
    for n in (1, 2):
        ws = tmp_path / f"copy{n}"
        ws.mkdir()
        shutil.copyfile(workspace / DB_FILENAME, ws / DB_FILENAME)
        copies.append(ws)
    for n, ws in enumerate(copies):
        with open_store(ws) as store:
            build_dataset(store, "same", DatasetRules(seed=3, min_rating=2))
            export_dataset(store, "same", tmp_path / f"out{n}")
            export_dataset(store, "same", tmp_path / f"again{n}")
    for name in ALL_FILES:
        a = (tmp_path / "out0" / name).read_bytes()
        assert a == (tmp_path / "out1" / name).read_bytes(), name
        assert a == (tmp_path / "again0" / name).read_bytes(), name
    # Within one store a second build gets new example ids, but the training content is the same.
    with open_store(copies[0]) as store:
        other = build_dataset(store, "other", DatasetRules(seed=3, min_rating=2))
        export_dataset(store, "other", tmp_path / "other")
        first = ds_store.get_dataset(store, "same")
        assert other.counts["training_hash"] == first.counts["training_hash"]
    for name in ("vertex_train.jsonl", "openai_validation.jsonl", "hf_test.jsonl"):
        assert (tmp_path / "other" / name).read_bytes() == (tmp_path / "out0" / name).read_bytes()
    strip = lambda rows: [{k: v for k, v in r.items() if k != "example_id"} for r in rows]  # noqa: E731
    assert strip(read_jsonl(tmp_path / "other" / "manifest.jsonl")) == strip(read_jsonl(tmp_path / "out0" / "manifest.jsonl"))


def test_export_refuses_when_the_store_changed_and_leaves_the_folder_alone(populated: Store, tmp_path: Path) -> None:
    record = build_dataset(populated, "d", DatasetRules())
    out = tmp_path / "out"
    out.mkdir()
    (out / "vertex_train.jsonl").write_text("old\n")
    row = ds_store.examples_of(populated, record.id, "train")[0]
    populated.conn.execute("UPDATE turns SET text = text || ' edited' WHERE id = ?", [row.turn_id])
    with pytest.raises(ValidationError, match="content hash"):
        export_dataset(populated, "d", out)
    assert sorted(p.name for p in out.iterdir()) == ["vertex_train.jsonl"]
    assert (out / "vertex_train.jsonl").read_text() == "old\n"


def test_cancelled_export_writes_nothing(populated: Store, tmp_path: Path) -> None:
    build_dataset(populated, "d", DatasetRules())
    state = TaskState()
    state.cancel()
    with pytest.raises(OperationCancelled):
        export_dataset(populated, "d", tmp_path / "out", state=state)
    assert list((tmp_path / "out").iterdir()) == []


def test_cancelled_build_stores_nothing(populated: Store) -> None:
    state = TaskState()
    state.cancel()
    with pytest.raises(OperationCancelled):
        build_dataset(populated, "d", DatasetRules(), state=state)
    assert ds_store.list_datasets(populated) == []


def test_over_long_examples_are_dropped_or_flagged(store: Store) -> None:
    huge = " ".join(["tell"] * 110_000)  # ~143,000 estimated tokens
    for i in range(12):
        target = huge if i == 0 else " ".join([f"reply{i}"] * 60)
        turns = [turn(Role.CLIENT, f"Client {i}."), turn(Role.THERAPIST, target)]
        add_session(store, ParsedTranscript(f"S{i}", "test", turns, Category.ANXIETY, f"k{i}", ["N"]), f"long{i}")
    huge_turn = next(t.id for t in transcript_store.turns_of(store, transcript_store.list_transcripts(store)[0].id)
                     if t.role is Role.THERAPIST)
    dropped = build_dataset(store, "drop", DatasetRules(split=(100, 0, 0)))
    ids = {r.turn_id for r in ds_store.examples_of(store, dropped.id)}
    assert huge_turn not in ids and len(ids) == 11
    assert dropped.counts["removed"]["over_token_limit"] == 1
    flagged = build_dataset(store, "flag", DatasetRules(split=(100, 0, 0), over_limit="flag"))
    assert huge_turn in {r.turn_id for r in ds_store.examples_of(store, flagged.id)}
    assert any(f"turn {huge_turn}" in w and "131072" in w for w in flagged.counts["warnings"])


def test_fast_lines_equal_the_documented_shapes() -> None:
    ctx = (Message("client", 'Quote " and \\ and é and \n newline', (TurnId(1),)),
           Message("therapist", "Tab\there", (TurnId(2),)), Message("client", "Emoji 🙂", (TurnId(3),)))
    target = "Target \u2028 text"
    for system in ("Be kind.", ""):
        for form in formats.VERTEX_FORMS:
            vertex, openai, hf = formats.example_lines(system, ctx, target, vertex_form=form)
            assert vertex == formats.dumps_line(formats.vertex_example(system, ctx, target, form))
            assert openai == formats.dumps_line(formats.openai_example(system, ctx, target))
            assert hf == formats.dumps_line(formats.hf_example(system, ctx, target))
            # and with the shared escape cache the export uses
            assert (vertex, openai, hf) == formats.example_lines(system, ctx, target, formats.encoder_cache(), form)
    transcript = json.loads(formats.example_lines("", ctx, target)[0])["contents"][0]["parts"][0]["text"]
    assert transcript == 'Client: Quote " and \\ and é and \n newline\n\nTherapist: Tab\there\n\nClient: Emoji 🙂'
    lone = (Message("client", "bad \ud800 surrogate", (TurnId(1),)),)
    vertex, openai, hf = formats.example_lines("", lone, "ok", vertex_form="multi_turn")
    assert json.loads(vertex)["contents"][0]["parts"][0]["text"] == "bad \ud800 surrogate"
    vertex, openai, hf = formats.example_lines("", lone, "ok")
    assert json.loads(vertex)["contents"][0]["parts"][0]["text"] == "Client: bad \ud800 surrogate"
    manifest = formats.manifest_line(example_id="ex-00000001", split="train", transcript_id=3, turn_id=4,
                                     category="Ängst", target_words=55)
    assert json.loads(manifest) == {"example_id": "ex-00000001", "split": "train", "transcript_id": 3,
                                    "turn_id": 4, "category": "Ängst", "target_words": 55}


def test_missing_turns_give_one_clear_line(populated: Store, tmp_path: Path) -> None:
    record = build_dataset(populated, "d", DatasetRules(freeze_test=True))
    row = ds_store.examples_of(populated, record.id, "test")[0]
    # Simulate a turn that has gone (foreign keys off: this is a damaged store, not a product path).
    populated.conn.execute("PRAGMA foreign_keys = OFF")
    populated.conn.execute("DELETE FROM turns WHERE id = ?", [row.turn_id])
    with pytest.raises(ValidationError, match=r"dataset 'd' refers to 1 turns .*build a new dataset"):
        export_dataset(populated, "d", tmp_path / "out")
    with pytest.raises(ValidationError, match=r"frozen test split of dataset 'd'.*delete dataset 'd'"):
        build_dataset(populated, "e", DatasetRules())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_token_estimate_follows_the_documented_formula() -> None:
    from core.datasets import tokens

    # "a b c d": 7 characters, 4 words → 1.10 × max(7/4, 4×1.3) = 5.72 → 6, plus 4 for the message
    assert tokens.estimate_tokens(["a b c d"]) == 10
    # one 400-letter word and "y": 401 characters dominate → ceil(1.10 × 100.25) = 111, plus 2 × 4
    assert tokens.estimate_tokens(["x" * 400, "y"]) == 119
    assert tokens.estimate(chars=401, words=2, messages=2) == 119
