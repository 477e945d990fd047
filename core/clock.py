"""The one clock: every timestamp Attune writes (log rows, backups, exports) comes from here.

UTC always; ISO 8601 text sorts as time does. Tests that need a fixed or
moving time patch ``now`` and every stamp follows.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    """To the second: when something was imported, created, logged."""
    return now().isoformat(timespec="seconds")


def now_iso_ms() -> str:
    """To the millisecond: several decisions a second must still sort and read apart."""
    return now().isoformat(timespec="milliseconds")


def file_stamp() -> str:
    """A name-safe stamp for files (backups), to the microsecond."""
    return now().strftime("%Y%m%dT%H%M%S%fZ")
