"""One exception hierarchy for the whole domain.

The GUI and the command line decide how to show these; core only says what
went wrong, in one line that names the file or field involved.
"""

from __future__ import annotations

from pathlib import Path


class AttuneError(Exception):
    """Base of every error Attune raises on purpose."""


class UsageError(AttuneError):
    """The caller asked for something that cannot be done as asked."""


class NotFoundError(AttuneError):
    """A transcript, turn, dataset or system that does not exist."""


class OperationCancelled(AttuneError):
    """The user pressed Cancel; work done so far was rolled back."""


class WorkspaceError(AttuneError):
    """The workspace cannot be opened or used."""


class WorkspaceTooNew(WorkspaceError):
    """The workspace was written by a newer Attune; opening it could damage it."""


class WorkspaceCorrupt(WorkspaceError):
    """SQLite's integrity check failed on open."""


class ImportFailed(AttuneError):
    """One input file could not be imported; nothing of it was written."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ValidationError(AttuneError):
    """Input data is malformed; the message names the file/line or field."""
