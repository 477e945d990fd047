"""The one helper for ``IN (...)`` over many ids.

Older SQLite builds bind at most 999 parameters to a statement, so a list of
ids is queried in chunks. (Queries over whole sets that are joined in SQL pass
one JSON array to ``json_each(?)`` instead and need no chunks.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

CHUNK = 900
T = TypeVar("T")


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """``?,?,…`` for ``n`` parameters."""
    return ",".join("?" * n)


def rows_in(
    conn: sqlite3.Connection, sql: str, ids: Iterable[object], *, before: Sequence[object] = (),
    size: int = CHUNK,
) -> Iterator[tuple]:
    """Every row of ``sql`` for ``ids``, queried in chunks.

    ``sql`` holds ``{marks}`` where the ``IN`` list goes; ``before`` are bound
    ahead of the ids (for example ``WHERE system_id = ? AND id IN ({marks})``).
    Order across chunks is the chunks' order: sort afterwards if it matters.
    """
    for chunk in chunks(ids, size):
        yield from conn.execute(sql.format(marks=marks(len(chunk))), [*before, *chunk])
