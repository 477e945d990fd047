"""Importing a system's replies from a JSONL file, all or nothing.

One line per reply: ``{"example_id": "ex-00000001", "response": "…"}``.
Optional ``"blocked": true`` (with an optional ``"reason"``) records a reply
that a safety filter withheld; it counts as missing, like an empty reply.
Example ids are unique across datasets, so the file alone says which test
items it answers; it may answer items of several datasets.

The whole file is checked before anything is written, and every problem is
reported with its line number: malformed lines, unknown ids, ids that are
not test items, ids answered twice in the file, and ids the system already
has a reply for. Already-stored replies are refused unless ``replace=True``
(``--replace``), so a second import never silently changes published
numbers. Empty replies are not errors: they are stored as ``empty`` (the
source really gave nothing), counted as missing, and listed in the report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from dataclasses import replace as replace_field
from pathlib import Path
from typing import Any

from core.bounded_read import read_bounded
from core.changes import OpChanges, OpChangesWith
from core.errors import ValidationError
from core.evaluation.features import as_row, compute
from core.evaluation.metrics import SCORER
from core.evaluation.sources import ReplyState, check_name, check_stored_kind
from core.ids import SystemId
from core.progress import TaskState, null_state
from core.store import Store
from core.store import responses as response_store
from core.text_safety import one_line, storable, without_surrogates

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_LISTED = 20


class ResponsesRejected(ValidationError):
    """The reply file has problems; nothing was imported. ``problems`` lists them all."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        # One line whatever the file holds: the first problem names its line, the rest are counted.
        super().__init__(f"{one_line(problems[0])[:300]}{more}; nothing was imported")


@dataclass(slots=True)
class ResponsesImportReport:
    system: str
    path: str
    created_system: bool
    imported: int = 0
    replaced: int = 0
    empty_lines: list[int] = field(default_factory=list)
    blocked: int = 0
    by_dataset: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"{self.path}: {self.imported} repl{'y' if self.imported == 1 else 'ies'} imported for "
            f"system {self.system!r}" + (f" ({self.replaced} replaced)" if self.replaced else "")
        ]
        for dataset, n in sorted(self.by_dataset.items()):
            out.append(f"  dataset {dataset}: {n} test item{'s' if n != 1 else ''} answered")
        if self.blocked:
            out.append(f"  {self.blocked} blocked repl{'y' if self.blocked == 1 else 'ies'} (counted as missing)")
        for line in self.empty_lines[:MAX_LISTED]:
            out.append(f"{self.path}:{line}: empty reply (stored; counted as missing)")
        if len(self.empty_lines) > MAX_LISTED:
            out.append(f"  … and {len(self.empty_lines) - MAX_LISTED} more empty replies")
        return out


@dataclass(frozen=True, slots=True)
class NewReply:
    """One reply to store: from a file line, or (later) from a generator's response."""

    example_id: str
    text: str
    blocked: bool = False
    detail: str = ""  # why it was blocked, a finish reason…
    provenance: dict[str, Any] = field(default_factory=dict)  # file and line, or model request
    where: str = ""  # how messages name it: "FILE:LINE" or "reply N"

    @property
    def state(self) -> str:
        if self.blocked:
            return ReplyState.BLOCKED
        return ReplyState.OK if self.text.strip() else ReplyState.EMPTY


@dataclass(slots=True)
class SavedReplies:
    system_id: SystemId
    created_system: bool
    replaced: int
    by_dataset: dict[str, int]


class _NotJsonNumber(ValueError):
    """Python's json accepts NaN and Infinity; JSON does not, and "nan" is not a reply."""


def _refuse_constant(name: str) -> Any:
    raise _NotJsonNumber(f"{name} is not a JSON value")


def _finite(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):  # 1e999
        raise _NotJsonNumber(f"{literal[:20]} is out of range")
    return value


def _parse(path: Path, data: bytes, problems: list[str]) -> list[NewReply]:
    out: list[NewReply] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{path}:{number}"
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            problems.append(f"{where}: not UTF-8 text")
            continue
        if not line:
            continue
        try:
            obj = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            problems.append(f"{where}: not valid JSON (nested too deeply)")
            continue
        except ValueError as exc:  # NaN/Infinity, or an integer past CPython's digit limit
            what = str(exc) if isinstance(exc, _NotJsonNumber) else "a number with too many digits"
            problems.append(f"{where}: not valid JSON ({what})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected a JSON object with \"example_id\" and \"response\"")
            continue
        eid = obj.get("example_id")
        if not isinstance(eid, str) or not eid.strip():
            problems.append(f"{where}: \"example_id\" is missing or not a non-empty string")
            continue
        blocked = obj.get("blocked", False)
        if not isinstance(blocked, bool):
            problems.append(f"{where}: \"blocked\" must be true or false")
            continue
        text = obj.get("response", "" if blocked else None)
        if text is None and not blocked:
            problems.append(f"{where}: \"response\" is missing (or null) for {eid!r}")
            continue
        if not isinstance(text, str):
            problems.append(f"{where}: \"response\" must be a string for {eid!r}")
            continue
        reason = obj.get("reason", "")
        if not isinstance(reason, str):
            problems.append(f"{where}: \"reason\" must be a string")
            continue
        # JSON escapes can spell lone surrogates and NULs, which the store cannot hold. The id
        # is a key, not text: a NUL in it stays (no id has one, so it is reported unknown).
        out.append(NewReply(without_surrogates(eid.strip()), storable(text), blocked, storable(reason),
                            {"file": path.name, "line": number}, where))
    return out


def import_responses(
    store: Store,
    system: str,
    path: Path | str,
    *,
    replace: bool = False,
    kind: str = "imported",
    state: TaskState | None = None,
) -> OpChangesWith[ResponsesImportReport]:
    """Check the whole file, then store its replies in one transaction (or nothing)."""
    state = state or null_state()
    check_name(system)
    check_stored_kind(kind)
    path = Path(path)
    # Regular files only, never past the limit (a FIFO or /dev/zero is one line, not a hang).
    data = read_bounded(path, MAX_FILE_BYTES)
    state.update(0, 0, "Checking replies")
    problems: list[str] = []
    lines = _parse(path, data, problems)
    if not lines and not problems:
        raise ResponsesRejected(path, [f"{path}: no replies in the file"])

    saved = _save(
        store,
        system,
        lines,
        kind=kind,
        system_provenance={"source": "imported file", "first_file": path.name},
        replace=replace,
        state=state,
        reject=lambda found: ResponsesRejected(path, found),
        replace_hint="use --replace to overwrite",
        problems=problems,
    )
    report = ResponsesImportReport(
        system=system,
        path=str(path),
        created_system=saved.created_system,
        imported=len(lines),
        replaced=saved.replaced,
        empty_lines=[int(ln.provenance["line"]) for ln in lines if ln.state == ReplyState.EMPTY],
        blocked=sum(1 for ln in lines if ln.state == ReplyState.BLOCKED),
        by_dataset=saved.by_dataset,
    )
    state.update(1, 1, "")
    return OpChangesWith(OpChanges(responses=True), report)


def save_replies(
    store: Store,
    system: str,
    replies: list[NewReply],
    *,
    kind: str,
    provenance: dict[str, Any],
    replace: bool = False,
    state: TaskState | None = None,
) -> OpChangesWith[SavedReplies]:
    """Store replies that did not come from a file (a generator's), checked like an import.

    Refuses (ValidationError naming every problem) unknown and non-test ids,
    repeats, and replies the system already has unless ``replace``; scores
    the texts; writes everything in one transaction or nothing.
    """
    check_name(system)
    labelled = [r if r.where else replace_field(r, where=f"reply {n} ({r.example_id})")
                for n, r in enumerate(replies, start=1)]
    saved = _save(
        store,
        system,
        labelled,
        kind=kind,
        system_provenance=provenance,
        replace=replace,
        state=state or null_state(),
        reject=lambda problems: ValidationError(
            f"{problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            + "; nothing was stored"
        ),
        replace_hint="replace=True overwrites",
    )
    return OpChangesWith(OpChanges(responses=True), saved)


def _save(
    store: Store,
    system: str,
    replies: list[NewReply],
    *,
    kind: str,
    system_provenance: dict[str, Any],
    replace: bool,
    state: TaskState,
    reject: Callable[[list[str]], Exception],
    replace_hint: str,
    problems: list[str] | None = None,
) -> SavedReplies:
    """The checks and the all-or-nothing write shared by file imports and generators.

    ``problems`` already found (a file's malformed lines) are reported with the rest.
    """
    check_stored_kind(kind)
    ids = [r.example_id for r in replies]
    known = response_store.example_info(store, ids)
    existing = response_store.find_system(store, system)
    already = response_store.stored_example_ids(store, existing.id, ids) if existing is not None else set()
    problems = list(problems or [])
    first: dict[str, NewReply] = {}
    for r in replies:
        info = known.get(r.example_id)
        if info is None:
            problems.append(f"{r.where}: unknown example id {r.example_id!r}")
        elif info.split != "test":
            problems.append(
                f"{r.where}: {r.example_id!r} is a {info.split} item of dataset {info.dataset!r}; "
                "only test items are evaluated"
            )
        if r.example_id in first:
            earlier = first[r.example_id]
            at = f"line {earlier.provenance['line']}" if "line" in earlier.provenance else earlier.where
            problems.append(f"{r.where}: {r.example_id!r} is answered twice (first on {at})")
        else:
            first[r.example_id] = r
        if r.example_id in already and not replace:
            problems.append(f"{r.where}: system {system!r} already has a reply to {r.example_id!r} ({replace_hint})")
    if problems:
        raise reject(problems)
    state.check_cancelled()

    # VADER runs now, outside the write transaction, so evaluation later reads numbers.
    usable = [r.text for r in replies if r.state == ReplyState.OK]
    scored = compute(usable, state=state, label="Scoring replies")
    state.check_cancelled()
    if replace and already & first.keys():
        store.backup("before-replace")  # replies about to be overwritten stay recoverable
    with store.transaction():
        if existing is None:
            system_id = response_store.insert_system(store, system, kind, system_provenance)
        else:
            system_id = existing.id
        response_store.write_replies(
            store,
            system_id,
            [
                response_store.ReplyRow(
                    example_id=r.example_id,
                    text=r.text,
                    state=r.state,
                    detail=r.detail,
                    provenance=r.provenance,
                    scorer=SCORER if r.state == ReplyState.OK else None,
                    features=as_row(scored[r.text]) if r.state == ReplyState.OK else None,
                )
                for r in replies
            ],
        )
    by_dataset: dict[str, int] = {}
    for r in replies:
        dataset = known[r.example_id].dataset
        by_dataset[dataset] = by_dataset.get(dataset, 0) + 1
    return SavedReplies(system_id, existing is None, len(already), by_dataset)
