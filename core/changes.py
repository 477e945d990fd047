"""What an operation changed, so each screen refreshes only what it must.

Core mutations return an ``OpChanges`` (Anki's pattern); the GUI broadcasts it
after the operation and every screen's ``op_executed`` decides whether to redraw.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OpChanges:
    transcripts: bool = False
    turns: bool = False
    decisions: bool = False
    datasets: bool = False
    responses: bool = False
    settings: bool = False

    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    @classmethod
    def everything(cls) -> OpChanges:
        return cls(**{f.name: True for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class OpChangesWith(Generic[T]):
    """Changes plus a value the caller wants back (a count, a new id…)."""

    changes: OpChanges
    value: T
