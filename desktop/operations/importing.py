"""Importing files from the GUI: in the background, with progress and Cancel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from core.changes import OpChanges, OpChangesWith
from core.ids import TranscriptId
from core.progress import TaskState
from core.store import Store
from core import transcripts as transcript_store
from desktop.operations import CollectionOp, QueryOp

if TYPE_CHECKING:  # the importers load when an import runs: the transcript list's metadata read needs none
    from core.importers import ImportOptions
    from core.importing import ImportReport


def import_files(
    *, parent: QWidget | None, paths: Sequence[str | Path], options: ImportOptions | None = None
) -> CollectionOp[OpChangesWith[ImportReport]]:
    wanted = [str(p) for p in paths]

    def op(store: Store, state: TaskState) -> OpChangesWith[ImportReport]:
        from core.importing import import_paths

        report = import_paths(store, wanted, options=options, state=state)
        changed = report.imported_transcripts > 0
        return OpChangesWith(OpChanges(transcripts=changed, turns=changed), report)

    return CollectionOp(parent, op).with_progress("Importing transcripts…")


def load_metadata(*, parent: QWidget | None) -> QueryOp[dict[TranscriptId, dict]]:
    """Every transcript's source metadata (topic, mi_quality, …) for the list's columns."""
    return QueryOp(parent, transcript_store.transcript_metadata)
