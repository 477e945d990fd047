"""Rater packages: one JSON file a rater on another machine votes into.

The file holds the session's random token, the rater's name, and per item an
opaque key, the context and the two normalised texts, in the rater's shuffled
order; nothing from which the systems could be derived (docs/ab-packages.md).
Votes are written back into the same file (atomically); ``merge_package``
checks the file belongs to the session and its items to the rater, and refuses
votes the workspace already holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from core.bounded_read import read_bounded
from core.changes import OpChanges, OpChangesWith
from core.errors import MalformedInput, UsageError, ValidationError
from core.files import write_file_atomic
from core.preference import sessions
from core.preference.sessions import CHOICE_NAMES, DuplicateVote, RaterItem
from core.store import Store
from core.store import preference as pref_store
from core.store.preference import CHOICES
from core.store.transcripts import now_iso

FORMAT = "attune-ab-package"
VERSION = 1
MAX_PACKAGE_BYTES = 256 * 1024 * 1024
INSTRUCTIONS = (
    "Read the conversation, then the two replies that could come next. "
    "Choose a if Response A is better, b if Response B is better, t if they are equally good, "
    "z if both are bad, s to skip."
)


def _items_digest(items: Iterable[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps([item["id"], item["context"], item["response_a"], item["response_b"]],
                            ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return h.hexdigest()


def _item_json(item: RaterItem) -> dict[str, Any]:
    return {
        "id": item.key,
        "context": [{"role": role, "text": text} for role, text in item.context],
        "response_a": item.response_a,
        "response_b": item.response_b,
    }


def package_json(store: Store, session_id: int, rater: str) -> dict[str, Any]:
    """The package's content for the rater's items that have no vote yet."""
    queue = sessions.rater_queue(store, session_id, rater)
    if queue.locked:
        raise UsageError(f"A/B session {session_id} is locked; there is nothing left to rate")
    items = [_item_json(i) for i in queue.items if i.vote is None]
    return {
        "format": FORMAT,
        "version": VERSION,
        "session": queue.token,
        "rater": rater,
        "instructions": INSTRUCTIONS,
        "choices": {c: CHOICE_NAMES[c] for c in CHOICES},
        "items": items,
        "items_sha256": _items_digest(items),
        "votes": [],
    }


def dumps(package: dict[str, Any]) -> bytes:
    return (json.dumps(package, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def write_package(store: Store, session_id: int, rater: str, out: Path | str) -> int:
    """Write the rater's package to ``out`` (atomically); returns how many items it holds."""
    package = package_json(store, session_id, rater)
    write_file_atomic(Path(out), dumps(package))
    return len(package["items"])


# Reading ######################################################################


@dataclass(slots=True)
class Package:
    path: Path
    data: dict[str, Any]

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.data["items"]

    @property
    def votes(self) -> dict[str, dict[str, Any]]:
        return {v["id"]: v for v in self.data["votes"]}

    def next_unrated(self) -> dict[str, Any] | None:
        voted = self.votes
        return next((i for i in self.items if i["id"] not in voted), None)

    def progress(self) -> tuple[int, int]:
        return len(self.votes), len(self.items)


def _fail(path: Path, what: str) -> MalformedInput:
    return MalformedInput(f"{path}: not a rating package ({what})")


def read_package(path: Path | str) -> Package:
    """Read and check a package file; one clear error naming the file when it is not one."""
    path = Path(path)
    raw = read_bounded(path, MAX_PACKAGE_BYTES)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _fail(path, f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _fail(path, f"\"format\" is not {FORMAT!r}")
    if data.get("version") != VERSION:
        raise _fail(path, f"version {data.get('version')!r}; this Attune reads version {VERSION}")
    for key, kind in (("session", str), ("rater", str), ("items", list), ("votes", list)):
        if not isinstance(data.get(key), kind):
            raise _fail(path, f"\"{key}\" is missing or not a {kind.__name__}")
    for n, item in enumerate(data["items"], start=1):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("id", "response_a", "response_b")):
            raise _fail(path, f"item {n} lacks \"id\", \"response_a\" or \"response_b\"")
    if data.get("items_sha256") != _items_digest(data["items"]):
        raise _fail(path, "its items were changed after it was written (checksum differs)")
    ids = {i["id"] for i in data["items"]}
    seen = set()
    for n, v in enumerate(data["votes"], start=1):
        if not isinstance(v, dict) or v.get("id") not in ids or v.get("choice") not in CHOICES:
            raise _fail(path, f"vote {n} names an unknown item or a choice other than {', '.join(CHOICES)}")
        if v["id"] in seen:
            raise _fail(path, f"vote {n}: item {v['id']!r} is voted twice")
        seen.add(v["id"])
    return Package(path, data)


def record_vote(package: Package, key: str, choice: str, comment: str = "") -> None:
    """Add one vote to the package and write the file at once (a crash loses no earlier vote)."""
    choice = choice.strip().lower()
    if choice not in CHOICES:
        raise UsageError(f"vote: one of {', '.join(CHOICES)} (got {choice!r})")
    if key not in {i["id"] for i in package.items}:
        raise UsageError(f"item {key!r} is not in {package.path}")
    if key in package.votes:
        raise DuplicateVote(f"item {key!r} already has a vote in {package.path}")
    package.data["votes"].append({"id": key, "choice": choice, "comment": comment.strip(), "at": now_iso()})
    write_file_atomic(package.path, dumps(package.data))


def undo_vote(package: Package) -> str | None:
    """Remove the package's latest vote; returns its item id."""
    if not package.data["votes"]:
        return None
    last = package.data["votes"].pop()
    write_file_atomic(package.path, dumps(package.data))
    return last["id"]


# Rating in a terminal #########################################################


def render_item(item: dict[str, Any], n: int, total: int) -> str:
    lines = [f"--- {n} / {total} ---", ""]
    for turn in item.get("context", []):
        label = "Client" if turn.get("role") == "client" else "Therapist"
        lines.append(f"{label}: {turn.get('text', '')}")
    lines += ["", "Response A:", item["response_a"], "", "Response B:", item["response_b"], "",
              "a = A better, b = B better, t = tie, z = both bad, s = skip"]
    return "\n".join(lines)


def rate_in_terminal(path: Path | str, answers: TextIO, show: Callable[[str], None]) -> tuple[int, int]:
    """Show each unrated item, read one choice per line from ``answers``; returns (voted now, left).

    An unknown answer is asked again; the end of input stops (the votes so far are kept).
    """
    package = read_package(path)
    voted = 0
    while (item := package.next_unrated()) is not None:
        done, total = package.progress()
        show(render_item(item, done + 1, total))
        while True:
            line = answers.readline()
            if not line:
                return voted, total - len(package.votes)
            answer = line.strip().lower()
            if answer in CHOICES:
                break
            show(f"please answer one of {', '.join(CHOICES)}")
        record_vote(package, item["id"], answer)
        voted += 1
    return voted, 0


# Merging ######################################################################


@dataclass(frozen=True, slots=True)
class MergeReport:
    session_id: int
    rater: str
    merged: int
    unrated: int


def merge_package(store: Store, path: Path | str, session_id: int | None = None) -> OpChangesWith[MergeReport]:
    """Bring a package's votes into its session: all of them or none."""
    package = read_package(path)
    session = pref_store.find_session_by_token(store, package.data["session"])
    if session is None or (session_id is not None and session.id != session_id):
        which = f"A/B session {session_id}" if session_id is not None else "any A/B session in this workspace"
        raise ValidationError(f"{package.path}: this package does not belong to {which}")
    rater = package.data["rater"]
    if rater not in session.raters:
        raise ValidationError(f"{package.path}: rater {rater!r} is not a rater of A/B session {session.id}")
    if session.state != "open":
        raise UsageError(f"{package.path}: A/B session {session.id} is locked; its votes can no longer change")
    with store.transaction():
        mine = {a.item_key: a for a in pref_store.assignments(store, session.id, rater)}
        current = pref_store.current_votes(store, session.id)
        duplicates = []
        for v in package.data["votes"]:
            a = mine.get(v["id"])
            if a is None:
                raise ValidationError(f"{package.path}: item {v['id']!r} is not in {rater!r}'s part of session {session.id}")
            if a.id in current:
                duplicates.append(v["id"])
        if duplicates:
            raise DuplicateVote(
                f"{package.path}: {len(duplicates)} of its votes are already in the workspace "
                f"(e.g. item {duplicates[0]!r}; was it merged before?); nothing was merged"
            )
        for v in package.data["votes"]:
            pref_store.insert_vote(store, mine[v["id"]].id, v["choice"], str(v.get("comment", "")),
                                   f"package {package.path.name}", v.get("at") if isinstance(v.get("at"), str) else None)
    report = MergeReport(session.id, rater, len(package.data["votes"]), len(package.items) - len(package.data["votes"]))
    return OpChangesWith(OpChanges(), report)
