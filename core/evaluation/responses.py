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
from dataclasses import dataclass, field
from pathlib import Path

from core.changes import OpChanges, OpChangesWith
from core.errors import ValidationError
from core.evaluation.features import as_row, compute
from core.evaluation.metrics import SCORER
from core.evaluation.systems import ReplyState, SystemKind, check_name
from core.progress import TaskState, null_state
from core.store import Store
from core.store import responses as response_store

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_LISTED = 20


class ResponsesRejected(ValidationError):
    """The reply file has problems; nothing was imported. ``problems`` lists them all."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}; nothing was imported")


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
class _Line:
    number: int
    example_id: str
    text: str
    state: str
    detail: str


def _parse(path: Path, data: bytes, problems: list[str]) -> list[_Line]:
    out: list[_Line] = []
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
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
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
        if blocked:
            state = ReplyState.BLOCKED
        elif not text.strip():
            state = ReplyState.EMPTY
        else:
            state = ReplyState.OK
        out.append(_Line(number, eid.strip(), text, state, reason))
    return out


def import_responses(
    store: Store,
    system: str,
    path: Path | str,
    *,
    replace: bool = False,
    kind: str = SystemKind.IMPORTED,
    state: TaskState | None = None,
) -> OpChangesWith[ResponsesImportReport]:
    """Check the whole file, then store its replies in one transaction (or nothing)."""
    state = state or null_state()
    check_name(system)
    if kind not in {k.value for k in SystemKind} or kind == SystemKind.THERAPIST:
        raise ValidationError(f"system kind {kind!r} is not one of imported, base_model, tuned_model")
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValidationError(f"{path}: the file is over {MAX_FILE_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    state.update(0, 0, "Checking replies")
    problems: list[str] = []
    lines = _parse(path, data, problems)
    if not lines and not problems:
        raise ResponsesRejected(path, [f"{path}: no replies in the file"])

    known = response_store.example_info(store, [ln.example_id for ln in lines])
    existing_system = response_store.find_system(store, system)
    already = (
        response_store.stored_example_ids(store, existing_system.id, [ln.example_id for ln in lines])
        if existing_system is not None
        else set()
    )
    first_line: dict[str, int] = {}
    for ln in lines:
        where = f"{path}:{ln.number}"
        info = known.get(ln.example_id)
        if info is None:
            problems.append(f"{where}: unknown example id {ln.example_id!r}")
        elif info.split != "test":
            problems.append(
                f"{where}: {ln.example_id!r} is a {info.split} item of dataset {info.dataset!r}; "
                "only test items are evaluated"
            )
        if ln.example_id in first_line:
            problems.append(f"{where}: {ln.example_id!r} is answered twice (first on line {first_line[ln.example_id]})")
        else:
            first_line[ln.example_id] = ln.number
        if ln.example_id in already and not replace:
            problems.append(
                f"{where}: system {system!r} already has a reply to {ln.example_id!r} "
                "(use --replace to overwrite)"
            )
    if problems:
        raise ResponsesRejected(path, problems)
    state.check_cancelled()

    # VADER runs now, outside the write transaction, so evaluation later reads numbers.
    scored = compute([ln.text for ln in lines if ln.state == ReplyState.OK], state=state, label="Scoring replies")
    state.check_cancelled()

    report = ResponsesImportReport(system=system, path=str(path), created_system=existing_system is None)
    with store.transaction():
        if existing_system is None:
            system_id = response_store.insert_system(
                store, system, kind, {"source": "imported file", "first_file": path.name}
            )
        else:
            system_id = existing_system.id
        response_store.write_replies(
            store,
            system_id,
            [
                response_store.ReplyRow(
                    example_id=ln.example_id,
                    text=ln.text,
                    state=ln.state,
                    detail=ln.detail,
                    provenance={"file": path.name, "line": ln.number},
                    scorer=SCORER if ln.state == ReplyState.OK else None,
                    features=as_row(scored[ln.text]) if ln.state == ReplyState.OK else None,
                )
                for ln in lines
            ],
        )
    report.imported = len(lines)
    report.replaced = len(already)
    report.empty_lines = [ln.number for ln in lines if ln.state == ReplyState.EMPTY]
    report.blocked = sum(1 for ln in lines if ln.state == ReplyState.BLOCKED)
    for ln in lines:
        dataset = known[ln.example_id].dataset
        report.by_dataset[dataset] = report.by_dataset.get(dataset, 0) + 1
    state.update(1, 1, "")
    return OpChangesWith(OpChanges(responses=True), report)
