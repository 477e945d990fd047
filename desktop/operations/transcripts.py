"""One small function per transcript-level action (deleting, for now)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from core.changes import OpChanges, OpChangesWith
from core.ids import TranscriptId
from core.store import Store
from core import transcripts as transcript_store
from core.models import DeletionImpact
from desktop.operations import CollectionOp, QueryOp


def deletion_impact(*, parent: QWidget | None, ids: list[TranscriptId]) -> QueryOp[DeletionImpact]:
    return QueryOp(parent, lambda store: transcript_store.deletion_impact(store, list(ids)))


def delete_transcripts(
    *, parent: QWidget | None, ids: list[TranscriptId], with_datasets: bool
) -> CollectionOp[OpChangesWith[DeletionImpact]]:
    def op(store: Store) -> OpChangesWith[DeletionImpact]:
        impact = transcript_store.delete_transcripts(store, list(ids), with_datasets=with_datasets)
        return OpChangesWith(OpChanges(transcripts=True, turns=True, decisions=True, datasets=True,
                                       responses=True), impact)

    return CollectionOp(parent, op)
