"""A small made-up dataset with base and tuned replies imported, for the A/B tests.

No real session text: sentences are built from a few fixed phrases.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.evaluation.responses import import_responses
from core.importing import content_hash
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import Store
from core.store import transcripts as transcript_store
from core.store.datasets import ExampleRow, insert_dataset

DATASET = "ab-data"
CATEGORIES = (Category.ANXIETY, Category.DEPRESSION, Category.FATIGUE)


def example_id(n: int) -> str:
    return f"ex-ab{n:06d}"


def build_ab_workspace(store: Store, folder: Path, n_items: int = 12, *, replies: dict[str, dict[int, str]] | None = None) -> str:
    """``n_items`` test items (categories cycling) and replies for ``base`` and ``tuned``."""
    examples = []
    with store.transaction():
        for n in range(n_items):
            client = f"Client line {n}: I have been worried about work number {n}."
            reference = f"Reply {n}: that sounds hard, tell me more about week {n}."
            parsed = ParsedTranscript(
                title=f"AB session {n}", format="sample",
                turns=[ParsedTurn(Role.CLIENT, "Client", client, client),
                       ParsedTurn(Role.THERAPIST, "Therapist", reference, reference)],
                category=CATEGORIES[n % len(CATEGORIES)], client_key=f"ab-client-{n}", client_names=[],
            )
            tid = transcript_store.insert_transcript(store, parsed, source_path="(ab test)",
                                                     content_hash=content_hash(parsed))
            c, t = transcript_store.turns_of(store, tid)
            examples.append(ExampleRow(example_id(n), "test", t.id, tid, CATEGORIES[n % 3].value,
                                       t.word_count, (c.id,)))
        insert_dataset(store, name=DATASET, rules={"sample": True}, seed=0, counts={}, content_hash="ab",
                       system_instruction="You are a therapist.", examples=examples)
    texts = replies or {
        "base": {n: f"First answer {n}: maybe try to relax   and sleep." for n in range(n_items)},
        "tuned": {n: f"Second answer {n}:\n\n\n  it sounds like work follows you home." for n in range(n_items)},
    }
    folder.mkdir(parents=True, exist_ok=True)
    for system, by_n in texts.items():
        path = folder / f"{system}.jsonl"
        path.write_text("".join(json.dumps({"example_id": example_id(n), "response": r}) + "\n"
                                for n, r in by_n.items()), encoding="utf-8")
        kind = "base_model" if system == "base" else "tuned_model"
        import_responses(store, system, path, kind=kind)
    return DATASET
