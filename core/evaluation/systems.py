"""Systems: named sources of replies to a dataset's test items.

The registry of reply sources (built-in ``therapist``, imported files, models,
and whatever a generator registers) is ``core.evaluation.sources``; this module
keeps the listing and lookup functions the command line and the Evaluation page
call. Replies a safety filter withheld are kept with state ``blocked`` and
count as *missing*.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from core.errors import UsageError
from core.evaluation.sources import (
    THERAPIST,
    Reply,
    ReplyState,
    SystemInfo,
    all_sources,
    check_name,
    kinds,
    source,
)
from core.ids import DatasetId
from core.store import Store
from core.store import responses as response_store
from core.models import EvalItem

__all__ = [
    "THERAPIST", "Reply", "ReplyState", "SystemInfo", "SystemKind", "check_name", "delete_system", "find_system", "list_systems",
    "replies_of", "system_names",
]


class SystemKind(StrEnum):
    """The kinds registered by core itself (``sources.kinds()`` lists every registered one)."""

    IMPORTED = "imported"
    BASE_MODEL = "base_model"
    TUNED_MODEL = "tuned_model"
    THERAPIST = "therapist"


def list_systems(store: Store) -> list[SystemInfo]:
    """Built-in systems first (the therapist), then stored systems by name."""
    return [s.info(store) for s in all_sources(store)]


def system_names(store: Store) -> list[str]:
    return [s.name for s in all_sources(store)]


def replies_of(store: Store, name: str, dataset_id: DatasetId, items: Sequence[EvalItem]) -> dict[str, Reply]:
    """The system's replies to the items, by example id (items without one are absent)."""
    return source(store, name).replies(store, dataset_id, items)


def delete_system(store: Store, name: str) -> int:
    """Delete a stored system and its replies (a backup is taken first); returns how many replies went."""
    if any(k.builtin and k.kind == name for k in kinds()):
        raise UsageError(f"{name!r} is built in: it stores no replies")
    return response_store.delete_system(store, name)


def find_system(store: Store, name: str) -> response_store.SystemRecord | None:
    """A stored system's record (id, kind, provenance), or None; built-in systems have none."""
    return response_store.find_system(store, name)
