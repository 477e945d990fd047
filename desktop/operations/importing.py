"""Importing files from the GUI: in the background, with progress and Cancel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QWidget

from core.changes import OpChanges, OpChangesWith
from core.importing import ImportReport, import_paths
from core.progress import TaskState
from core.store import Store
from desktop.operations import CollectionOp


def import_files(
    *, parent: QWidget | None, paths: Sequence[str | Path]
) -> CollectionOp[OpChangesWith[ImportReport]]:
    wanted = [str(p) for p in paths]

    def op(store: Store, state: TaskState) -> OpChangesWith[ImportReport]:
        report = import_paths(store, wanted, state=state)
        changed = report.imported_transcripts > 0
        return OpChangesWith(OpChanges(transcripts=changed, turns=changed), report)

    return CollectionOp(parent, op).with_progress("Importing transcripts…")
