"""A tiny, made-up evaluation whose every figure can be worked out by hand.

The self-test scores it, the tests lock its full JSON, and the docs walk
through it (docs/evaluation.md). Four test items over three categories, two
systems; ``base`` has an empty and a blocked reply, ``tuned`` lacks one reply.
No real session text appears here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.evaluation.responses import import_responses
from core.importing import content_hash
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import Store
from core.store import transcripts as transcript_store
from core.store.datasets import ExampleRow, insert_dataset

SAMPLE_DATASET = "sample-evaluation"
SAMPLE_SYSTEMS = ("base", "tuned")


@dataclass(frozen=True, slots=True)
class _Item:
    example_id: str
    split: str
    category: Category
    client_names: tuple[str, ...]
    client_turn: str
    reference: str


ITEMS = (
    _Item("ex-90000001", "test", Category.ANXIETY, ("Sam",), "I keep worrying at night.",
          "Sam, tell me more. What happens then?"),
    _Item("ex-90000002", "test", Category.ANXIETY, ("Alex",), "My chest gets tight.",
          "You feel it in your body."),
    _Item("ex-90000003", "test", Category.DEPRESSION, (), "Nothing seems worth it.",
          "What do you need from today?"),
    _Item("ex-90000004", "test", Category.FATIGUE, ("Jo",), "I am exhausted every day.",
          "You are tired. Rest is part of this."),
    _Item("ex-90000005", "train", Category.ANXIETY, ("Kim",), "I cannot relax.",
          "Let us slow down together."),
)

# One JSON line per reply, as ``attune responses import`` reads them.
REPLIES: dict[str, list[dict[str, object]]] = {
    "base": [
        {"example_id": "ex-90000001", "response": "That sounds good. Can you say more?"},
        {"example_id": "ex-90000002", "response": "   "},
        {"example_id": "ex-90000003", "response": "", "blocked": True, "reason": "safety"},
        {"example_id": "ex-90000004", "response": "Sleep."},
    ],
    "tuned": [
        {"example_id": "ex-90000001", "response": "Tell me more, Sam."},
        {"example_id": "ex-90000002", "response": "Alex, you feel it. It is sad."},
        {"example_id": "ex-90000003", "response": "Today is a good day. What do you need?"},
    ],
}


def build_sample_dataset(store: Store, name: str = SAMPLE_DATASET) -> str:
    """Insert the sample transcripts and dataset; returns the dataset name."""
    examples: list[ExampleRow] = []
    with store.transaction():
        for n, item in enumerate(ITEMS, start=1):
            parsed = ParsedTranscript(
                title=f"Sample session {n}",
                format="sample",
                turns=[
                    ParsedTurn(Role.CLIENT, "Client", item.client_turn, item.client_turn),
                    ParsedTurn(Role.THERAPIST, "Therapist", item.reference, item.reference),
                ],
                category=item.category,
                client_key=f"sample-client-{n}",
                client_names=list(item.client_names),
            )
            tid = transcript_store.insert_transcript(
                store, parsed, source_path="(built-in sample)", content_hash=content_hash(parsed)
            )
            client, therapist = transcript_store.turns_of(store, tid)
            examples.append(
                ExampleRow(
                    example_id=item.example_id,
                    split=item.split,
                    turn_id=therapist.id,
                    transcript_id=tid,
                    category=item.category.value,
                    target_words=therapist.word_count,
                    context_turn_ids=(client.id,),
                )
            )
        insert_dataset(
            store,
            name=name,
            rules={"sample": True},
            seed=0,
            counts={},
            content_hash="sample",
            system_instruction="",
            examples=examples,
        )
    return name


def write_reply_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for system, lines in REPLIES.items():
        path = folder / f"{system}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        paths[system] = path
    return paths


def build_sample(store: Store, folder: Path) -> str:
    """The sample dataset plus both systems' replies, imported as a user would."""
    name = build_sample_dataset(store)
    for system, path in write_reply_files(folder).items():
        import_responses(store, system, path)
    return name


# Worked out by hand (docs/evaluation.md): overall (avg_length_diff,
# avg_sentence_diff, avg_sentiment_distance, name_usage_mismatch, questions,
# replies_with_question, n, missing) per system.
EXPECTED_OVERALL = {
    "base": (3.5, 0.5, 0.4404, 1, 1, 1, 2, 2),
    "tuned": (7 / 3, 1.0, 0.9171 / 3, 1, 1, 1, 3, 1),
}


def self_check(store: Store, folder: Path, dataset_name: str | None = None) -> str:
    """Build and score the sample; raise if any overall figure differs from the hand-worked one.

    Given another dataset (the self-test's freshly built one), also score the
    therapist against itself there: every distance must be zero.
    """
    from core.errors import AttuneError
    from core.evaluation.evaluate import SYSTEM_KEYS, evaluate

    name = build_sample(store, folder)
    result = evaluate(store, name, list(SAMPLE_SYSTEMS), resamples=200)
    for system, expected in EXPECTED_OVERALL.items():
        scores = result.overall.systems[system]
        for key, want in zip(SYSTEM_KEYS, expected, strict=True):
            got = getattr(scores, key)
            if got is None or abs(got - want) > 1e-9:
                raise AttuneError(f"sample evaluation: {system} {key} is {got}, expected {want}")
    empty = [c for c, b in result.categories.items() if b.n == 0]
    extra = ""
    if dataset_name is not None:
        own = evaluate(store, dataset_name, ["therapist"], resamples=50).overall
        t = own.systems["therapist"]
        if own.n and (t.avg_length_diff, t.avg_sentence_diff, t.avg_sentiment_distance, t.missing) != (0, 0, 0, 0):
            raise AttuneError(f"dataset {dataset_name!r}: the therapist scored against itself is not at zero")
        extra = f"; {dataset_name}: {own.n} test items read"
    return (
        f"{len(result.items)} items, {len(SAMPLE_SYSTEMS)} systems, figures as worked by hand "
        f"({len(empty)} empty categories){extra}"
    )
