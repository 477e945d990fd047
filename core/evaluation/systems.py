"""Systems: named sources of replies to a dataset's test items.

A system is an imported reply file, a base model or a tuned model; a later
generator adds systems of the model kinds with their generation settings in
``provenance`` and per-reply provenance (request, finish reason) on each
reply, so nothing here changes when it arrives. Replies a safety filter
withheld are kept with state ``blocked`` and count as *missing*.

``therapist`` is built in: its replies are the references (the real
therapist turns), always available, never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import NotFoundError, UsageError
from core.evaluation.metrics import SCORER, TextFeatures
from core.ids import DatasetId, SystemId
from core.store import Store
from core.store import responses as response_store
from core.store.datasets import EvalItem

THERAPIST = "therapist"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SystemKind(StrEnum):
    IMPORTED = "imported"
    BASE_MODEL = "base_model"
    TUNED_MODEL = "tuned_model"
    THERAPIST = "therapist"


class ReplyState(StrEnum):
    OK = "ok"
    EMPTY = "empty"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class SystemInfo:
    name: str
    kind: str
    replies: int
    by_state: dict[str, int] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    builtin: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    state: str
    features: TextFeatures | None = None  # stored by the current scorer, else None

    @property
    def usable(self) -> bool:
        return self.state == ReplyState.OK and bool(self.text.strip())


def check_name(name: str) -> str:
    """A system name must be short, safe in file names and not the built-in one."""
    if name.strip().lower() == THERAPIST:
        raise UsageError(f"{THERAPIST!r} is the built-in system of the therapist's own replies")
    if not _NAME.match(name):
        raise UsageError(
            f"system name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def list_systems(store: Store) -> list[SystemInfo]:
    """The built-in therapist first, then stored systems by name."""
    therapist = SystemInfo(
        name=THERAPIST,
        kind=SystemKind.THERAPIST,
        replies=response_store.count_test_items(store),
        by_state={},
        datasets=(),
        provenance={"source": "the therapist's real replies (dataset references)"},
        builtin=True,
    )
    return [therapist] + [
        SystemInfo(
            name=s.system.name,
            kind=s.system.kind,
            replies=s.replies,
            by_state=s.by_state,
            datasets=s.datasets,
            provenance=s.system.provenance,
        )
        for s in response_store.list_systems(store)
    ]


def system_names(store: Store) -> list[str]:
    return [s.name for s in list_systems(store)]


def replies_of(
    store: Store, name: str, dataset_id: DatasetId, items: list[EvalItem]
) -> dict[str, Reply]:
    """The system's replies to the items, by example id (items without one are absent)."""
    if name == THERAPIST:
        return {item.example_id: Reply(item.reference, ReplyState.OK) for item in items}
    system = response_store.find_system(store, name)
    if system is None:
        known = ", ".join(system_names(store))
        raise NotFoundError(f"no system named {name!r} (known: {known})")
    stored = response_store.replies_for_dataset(store, system.id, dataset_id)
    return {
        eid: Reply(r.text, r.state, TextFeatures(*r.features) if r.features and r.scorer == SCORER else None)
        for eid, r in stored.items()
    }


def system_id_of(store: Store, name: str) -> SystemId | None:
    system = response_store.find_system(store, name)
    return system.id if system is not None else None
