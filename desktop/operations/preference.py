"""One small function per action on the A/B rating screen.

Votes in a session are ``CollectionOp``s committed at once on the database
thread; a rating package is a file, so its votes are written off the database
thread (``QueryOp.without_store``), each one at once too. Nothing here or in
what it returns names a system: core hands out ``RaterQueue``/``Package``
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QWidget

from core import curation
from core.changes import OpChanges, OpChangesWith
from core.preference import packages, sessions
from core.preference.packages import Package
from core.preference.sessions import RaterQueue
from core.store import Store
from desktop.operations import CollectionOp, QueryOp


@dataclass(frozen=True, slots=True)
class SessionChoice:
    """What the session picker shows: no systems, only what a rater may know."""

    id: int
    label: str
    raters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RatingSetup:
    sessions: list[SessionChoice]
    current_rater: str


def _setup(store: Store) -> RatingSetup:
    choices = [
        SessionChoice(x.session.id, f"Session {x.session.id} · {x.session.dataset_name} · {x.per_rater} pairs",
                      x.session.raters)
        for x in sessions.session_summaries(store)
        if x.session.state == "open"
    ]
    return RatingSetup(choices, curation.default_rater(store))


def load_rating_setup(*, parent: QWidget | None) -> QueryOp[RatingSetup]:
    return QueryOp(parent, _setup)


def load_queue(*, parent: QWidget | None, session_id: int, rater: str) -> QueryOp[RaterQueue]:
    return QueryOp(parent, lambda store: sessions.rater_queue(store, session_id, rater))


def cast_vote(
    *, parent: QWidget | None, session_id: int, rater: str, key: str, choice: str, comment: str
) -> CollectionOp[OpChanges]:
    return CollectionOp(parent, lambda store: sessions.vote(store, session_id, rater, key, choice, comment))


def undo_vote(*, parent: QWidget | None, session_id: int, rater: str) -> CollectionOp[OpChangesWith[str | None]]:
    def op(store: Store) -> OpChangesWith[str | None]:
        return OpChangesWith(OpChanges(), sessions.undo_last_vote(store, session_id, rater))

    return CollectionOp(parent, op)


# Rating packages (files; no workspace needed) ##################################


def open_package(*, parent: QWidget | None, path: Path) -> QueryOp[Package]:
    return QueryOp(parent, lambda _state: packages.read_package(path)).without_store()


def record_package_vote(
    *, parent: QWidget | None, package: Package, key: str, choice: str, comment: str
) -> QueryOp[None]:
    return QueryOp(parent, lambda _state: packages.record_vote(package, key, choice, comment)).without_store()


def undo_package_vote(*, parent: QWidget | None, package: Package) -> QueryOp[str | None]:
    return QueryOp(parent, lambda _state: packages.undo_vote(package)).without_store()
