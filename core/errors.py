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


class WorkspaceMissing(WorkspaceError):
    """No workspace (or an empty file) where one was expected; nothing was created."""


class WorkspaceBusy(WorkspaceError):
    """Another writer held the workspace's write lock longer than we wait."""


class WalLost(WorkspaceCorrupt):
    """The write-ahead log vanished while the workspace was open: committed changes are missing."""


class ImportFailed(AttuneError):
    """One input file could not be imported; nothing of it was written."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ValidationError(AttuneError):
    """Input data is malformed; the message names the file/line or field."""


# Bad input, one class per cause, so each edge (CLI, GUI) can say it in one line.
# Importers raise ImportFailed (one file of many, the import goes on); these are for
# files read on their own, where the command as a whole fails.


class InputRefused(ValidationError):
    """An input file was refused before parsing: not a regular file, too big, a bomb."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MalformedInput(ValidationError):
    """An input file was read but its content is malformed (JSON too deep, NaN, bad bytes)."""


class OutputFailed(AttuneError):
    """A result file or folder could not be written (bad path, no space, no permission)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot be written ({reason})")
