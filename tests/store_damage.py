"""Damaging a workspace file on purpose, for tests of the integrity check."""

from __future__ import annotations

from pathlib import Path

PAGE = 4096


def corrupt_pages(db: Path, *, at: float = 1 / 3, count: int = 5) -> None:
    """Overwrite ``count`` pages starting ``at`` of the way into the file with noise."""
    pages = db.stat().st_size // PAGE
    assert pages >= 20, "the test database is too small to corrupt in the middle"
    first = int(pages * at)
    with db.open("r+b") as f:
        for n in range(first, first + count):
            f.seek(n * PAGE)
            f.write(bytes((i * 37 + n) % 251 for i in range(PAGE)))
