"""SQL for tuning jobs (migration 0009): one row per run, whatever the backend.

The row is the job: a backend's process or remote run may die or be
restarted, and the app finds it again here. ``settings`` and ``metrics`` are
JSON; ``metrics`` is replaced whole by each update (the backend owns its shape).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.errors import NotFoundError, UsageError
from core.ids import DatasetId
from core.store.connection import Store
from core.store.transcripts import now_iso

STATES = ("pending", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")

_COLUMNS = (
    "id, backend, dataset_id, dataset_hash, base_model, base_model_hash, state, settings, metrics, "
    "remote_name, log_path, output, system_name, error, created_at, updated_at"
)
# Columns ``update_job`` may change (id, backend, dataset and creation time never change).
_MUTABLE = {"state", "metrics", "remote_name", "log_path", "output", "system_name", "error",
            "base_model_hash", "settings"}


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    backend: str
    dataset_id: DatasetId | None
    dataset_hash: str
    base_model: str
    base_model_hash: str
    state: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    remote_name: str | None
    log_path: str | None
    output: str | None
    system_name: str | None
    error: str
    created_at: str
    updated_at: str

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def _job(row: tuple) -> JobRecord:
    return JobRecord(
        id=row[0], backend=row[1], dataset_id=DatasetId(row[2]) if row[2] is not None else None,
        dataset_hash=row[3], base_model=row[4], base_model_hash=row[5], state=row[6],
        settings=json.loads(row[7]), metrics=json.loads(row[8]), remote_name=row[9], log_path=row[10],
        output=row[11], system_name=row[12], error=row[13], created_at=row[14], updated_at=row[15],
    )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def create_job(
    store: Store, *, backend: str, dataset_id: DatasetId | None, dataset_hash: str, base_model: str,
    base_model_hash: str = "", settings: dict[str, Any] | None = None, state: str = "pending",
) -> JobRecord:
    """Insert a job and return it (its own transaction, or the caller's)."""
    if state not in STATES:
        raise UsageError(f"job state: one of {', '.join(STATES)} (got {state!r})")
    at = now_iso()
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO tuning_jobs (backend, dataset_id, dataset_hash, base_model, base_model_hash, state, "
            "settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [backend, dataset_id, dataset_hash, base_model, base_model_hash, state, _dumps(settings or {}), at, at],
        )
        job_id = cur.lastrowid
    return get_job(store, job_id)


def find_job(store: Store, job_id: int) -> JobRecord | None:
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM tuning_jobs WHERE id = ?", [job_id]).fetchone()
    return _job(row) if row else None


def get_job(store: Store, job_id: int) -> JobRecord:
    job = find_job(store, job_id)
    if job is None:
        raise NotFoundError(f"no tuning job {job_id}")
    return job


def list_jobs(store: Store, *, backend: str | None = None, unfinished: bool = False) -> list[JobRecord]:
    """Jobs, newest first; ``unfinished`` keeps pending and running ones."""
    sql, args = f"SELECT {_COLUMNS} FROM tuning_jobs WHERE 1", []
    if backend is not None:
        sql += " AND backend = ?"
        args.append(backend)
    if unfinished:
        sql += " AND state IN ('pending', 'running')"
    return [_job(r) for r in store.conn.execute(sql + " ORDER BY id DESC", args)]


def update_job(store: Store, job_id: int, **changes: Any) -> JobRecord:
    """Change a job's state, metrics (replaced whole), output, error…; bumps ``updated_at``."""
    unknown = set(changes) - _MUTABLE
    if unknown:
        raise UsageError(f"tuning job: cannot change {', '.join(sorted(unknown))}")
    if "state" in changes and changes["state"] not in STATES:
        raise UsageError(f"job state: one of {', '.join(STATES)} (got {changes['state']!r})")
    values = {k: _dumps(v) if k in ("settings", "metrics") else v for k, v in changes.items()}
    values["updated_at"] = now_iso()
    with store.transaction() as conn:
        cur = conn.execute(
            f"UPDATE tuning_jobs SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
            [*values.values(), job_id],
        )
        if cur.rowcount == 0:
            raise NotFoundError(f"no tuning job {job_id}")
    return get_job(store, job_id)
