"""SQL for the egress log: what transcript text left the machine, when, and where.

Append-only: the schema (migration 0010) refuses UPDATE and DELETE, so there
is no function here that would try.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.store.connection import Store
from core.store.transcripts import now_iso


@dataclass(frozen=True, slots=True)
class EgressEntry:
    id: int
    at: str
    kind: str
    destination: str
    what: str
    content_hash: str
    bytes: int
    examples: int
    detail: dict[str, Any]


def append(
    store: Store,
    *,
    kind: str,
    destination: str,
    what: str,
    content_hash: str,
    size: int,
    examples: int,
    detail: dict[str, Any] | None = None,
) -> int:
    """Write one row in its own transaction (or the caller's); returns its id."""
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO egress_log (at, kind, destination, what, content_hash, bytes, examples, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [now_iso(), kind, destination, what, content_hash, size, examples,
             json.dumps(detail or {}, sort_keys=True, ensure_ascii=False)],
        )
        return int(cur.lastrowid or 0)


def entries(store: Store, limit: int | None = None) -> list[EgressEntry]:
    """Newest first."""
    sql = "SELECT id, at, kind, destination, what, content_hash, bytes, examples, detail FROM egress_log ORDER BY id DESC"
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [
        EgressEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
        for r in store.conn.execute(sql, params)
    ]
