"""Reply sources: anything that replies to a test item, in a registry keyed by kind.

A *system* is one named reply source. Its *kind* says where the replies come
from and is looked up here, never compared as a string elsewhere (the same
shape as Kiln's fine-tune adapter registry):

- **built-in kinds** reply on the fly to every test item and store nothing;
  ``therapist`` (the real therapist's turn, i.e. the item's reference) is one.
  The system is named after its kind and is always listed.
- **stored kinds** keep their replies in the workspace (``responses``):
  ``imported`` (a JSONL file), ``base_model`` and ``tuned_model``, and whatever
  a generator registers (a local model, Gemini, a tuned endpoint). Their replies
  are written by ``core.evaluation.responses.save_replies`` (or a file import),
  which refuses kinds not registered here.

Evaluation, ``attune systems`` and the Evaluation page only ever go through
``all_sources`` and ``source``, so a new kind needs a ``register_*`` call and
nothing else.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import NotFoundError, UsageError, ValidationError
from core.evaluation.metrics import SCORER, TextFeatures
from core.ids import DatasetId
from core.store import Store
from core.store import responses as response_store
from core.models import EvalItem

THERAPIST = "therapist"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ReplyState(StrEnum):
    OK = "ok"
    EMPTY = "empty"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    state: str
    features: TextFeatures | None = None  # stored by the current scorer, else None

    @property
    def usable(self) -> bool:
        return self.state == ReplyState.OK and bool(self.text.strip())


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """One system as listed (``attune systems``, the Evaluation page)."""

    name: str
    kind: str
    replies: int
    by_state: dict[str, int] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    builtin: bool = False


class ReplySource(ABC):
    """A named system: lists itself and replies to a dataset's test items."""

    name: str
    kind: str

    @abstractmethod
    def info(self, store: Store) -> SystemInfo: ...

    @abstractmethod
    def replies(self, store: Store, dataset_id: DatasetId, items: Sequence[EvalItem]) -> dict[str, Reply]:
        """Replies by example id; items it has no reply to are absent."""

    def keep_features(self, store: Store, rows: Sequence[tuple[str, TextFeatures]]) -> None:
        """Features evaluation computed for replies that had none (example id, features); default: forget them."""


# Registry #####################################################################


@dataclass(frozen=True, slots=True)
class SourceKind:
    kind: str
    description: str
    # Built-in kinds: the reply to an item, computed on the fly. None: a stored kind.
    reply: Callable[[EvalItem], str] | None = None

    @property
    def builtin(self) -> bool:
        return self.reply is not None


_KINDS: dict[str, SourceKind] = {}


def _register(entry: SourceKind) -> SourceKind:
    if not _NAME.match(entry.kind):
        raise ValueError(f"source kind {entry.kind!r}: use letters, digits, '.', '_' or '-'")
    known = _KINDS.get(entry.kind)
    if known is not None and known != entry:
        raise ValueError(f"source kind {entry.kind!r} is already registered differently")
    _KINDS[entry.kind] = entry
    return entry


def register_kind(kind: str, description: str) -> SourceKind:
    """A stored kind: replies saved through ``save_replies``. Registering the same again is a no-op."""
    return _register(SourceKind(kind, description))


def register_builtin(kind: str, description: str, reply: Callable[[EvalItem], str]) -> SourceKind:
    """A built-in system named ``kind`` that replies ``reply(item)`` to every test item, storing nothing."""
    return _register(SourceKind(kind, description, reply))


def unregister(kind: str) -> None:
    """Forget a kind (tests); stored systems of that kind are still listed and evaluated."""
    _KINDS.pop(kind, None)


def kinds() -> list[SourceKind]:
    return list(_KINDS.values())


def stored_kinds() -> list[str]:
    return [k.kind for k in _KINDS.values() if not k.builtin]


def check_stored_kind(kind: str) -> str:
    """``kind`` if replies of that kind may be saved, else a ValidationError naming the ones that may."""
    entry = _KINDS.get(kind)
    if entry is None or entry.builtin:
        raise ValidationError(f"system kind {kind!r} is not one of {', '.join(stored_kinds())}")
    return kind


def check_name(name: str) -> str:
    """A system name must be short, safe in file names and not a built-in system's."""
    builtin = next((k.kind for k in _KINDS.values() if k.builtin and k.kind.lower() == name.strip().lower()), None)
    if builtin is not None:
        raise UsageError(f"{builtin!r} is a built-in system ({_KINDS[builtin].description})")
    if not _NAME.match(name):
        raise UsageError(
            f"system name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


# Sources ######################################################################


class BuiltinSource(ReplySource):
    """A built-in kind's system: one reply per test item, computed, never stored."""

    def __init__(self, entry: SourceKind) -> None:
        assert entry.reply is not None
        self.name = self.kind = entry.kind
        self._entry = entry

    def info(self, store: Store) -> SystemInfo:
        return SystemInfo(
            name=self.name, kind=self.kind, replies=response_store.count_test_items(store),
            provenance={"source": self._entry.description}, builtin=True,
        )

    def replies(self, store: Store, dataset_id: DatasetId, items: Sequence[EvalItem]) -> dict[str, Reply]:
        reply = self._entry.reply
        assert reply is not None
        return {item.example_id: Reply(reply(item), ReplyState.OK) for item in items}


class StoredSource(ReplySource):
    """A system whose replies are in the workspace, whatever produced them."""

    def __init__(self, record: response_store.SystemRecord,
                 summary: response_store.SystemSummary | None = None) -> None:
        self.name, self.kind = record.name, record.kind
        self._record, self._summary = record, summary

    def info(self, store: Store) -> SystemInfo:
        summary = self._summary
        if summary is None:
            summary = next(s for s in response_store.list_systems(store) if s.system.id == self._record.id)
        return SystemInfo(
            name=self.name, kind=self.kind, replies=summary.replies, by_state=summary.by_state,
            datasets=summary.datasets, provenance=self._record.provenance,
        )

    def replies(self, store: Store, dataset_id: DatasetId, items: Sequence[EvalItem]) -> dict[str, Reply]:
        stored = response_store.replies_for_dataset(store, self._record.id, dataset_id)
        return {
            eid: Reply(r.text, r.state, TextFeatures(*r.features) if r.features and r.scorer == SCORER else None)
            for eid, r in stored.items()
        }

    def keep_features(self, store: Store, rows: Sequence[tuple[str, TextFeatures]]) -> None:
        response_store.update_reply_features(
            store, self._record.id, SCORER, [(eid, (f.words, f.sentences, f.compound, f.questions)) for eid, f in rows]
        )


def _builtins() -> list[BuiltinSource]:
    return [BuiltinSource(k) for k in _KINDS.values() if k.builtin]


def all_sources(store: Store) -> list[ReplySource]:
    """Built-in systems first (in registration order), then stored systems by name."""
    stored: list[ReplySource] = [StoredSource(s.system, s) for s in response_store.list_systems(store)]
    return [*_builtins(), *stored]


def source(store: Store, name: str) -> ReplySource:
    """The system named ``name`` (one lookup); NotFoundError lists the known names."""
    for b in _builtins():
        if b.name == name:
            return b
    record = response_store.find_system(store, name)
    if record is None:
        known = ", ".join(s.name for s in all_sources(store))
        raise NotFoundError(f"no system named {name!r} (known: {known})")
    return StoredSource(record)


def sources_named(store: Store, names: Iterable[str]) -> dict[str, ReplySource]:
    return {name: source(store, name) for name in names}


register_builtin(THERAPIST, "the therapist's real replies (dataset references)", lambda item: item.reference)
register_kind("imported", "replies imported from a JSONL file")
register_kind("base_model", "replies of a base model")
register_kind("tuned_model", "replies of a tuned model")
