"""Per-text features, computed once: VADER is the cost of an evaluation.

Replies are scored when they are imported and stored on their row; reference
turns are scored the first time a dataset is evaluated and kept in
``reference_features`` (deleted with the turn, cleared when its text is
edited). A stored row is used only if the same scorer version (VADER version
+ metric definitions) wrote it; anything else is recomputed and stored again.
Within a process, ``metrics.features`` also caches by text.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.evaluation.metrics import SCORER, TextFeatures, features
from core.progress import TaskState, null_state
from core.store import Store
from core.store import responses as response_store
from core.models import EvalItem

EVERY = 200  # texts between progress updates and cancel checks


def compute(
    texts: Sequence[str], *, state: TaskState | None = None, label: str = "Scoring texts"
) -> dict[str, TextFeatures]:
    """Features of each distinct text, with progress and Cancel."""
    state = state or null_state()
    unique = list(dict.fromkeys(texts))
    out: dict[str, TextFeatures] = {}
    for done, text in enumerate(unique):
        if done % EVERY == 0:
            state.check_cancelled()
            state.update(done, len(unique), label)
        out[text] = features(text)
    state.update(len(unique), len(unique), label)
    return out


def as_row(f: TextFeatures) -> response_store.Features:
    return (f.words, f.sentences, f.compound, f.questions)


def reference_features(
    store: Store, items: Sequence[EvalItem], *, state: TaskState | None = None
) -> dict[int, TextFeatures]:
    """Features of each item's reference turn, by turn id; new ones are stored."""
    cached = response_store.reference_features(store, [i.turn_id for i in items], SCORER)
    out = {tid: TextFeatures(*row) for tid, row in cached.items()}
    todo = {i.turn_id: i.reference for i in items if i.turn_id not in out}
    if todo:
        fresh = compute(list(todo.values()), state=state, label="Scoring the therapist's replies")
        new = {tid: fresh[text] for tid, text in todo.items()}
        response_store.save_reference_features(store, SCORER, [(tid, as_row(f)) for tid, f in new.items()])
        out.update(new)
    return out
