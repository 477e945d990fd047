"""The workspace's transcripts, for the screens and the command line: list, read, describe, delete.

Importing them is ``core.importing``; deciding about their turns is
``core.curation``. The SQL is ``core.store.transcripts``; callers above the
domain (``cli``, ``desktop``) come through here, never to the store module.
"""

from __future__ import annotations

from core.models import DeletionImpact, Transcript, Turn
from core.store import Store
from core.store.transcripts import (
    MetadataKey,
    Stats,
    count_transcripts,
    deletion_impact,
    get_transcript,
    get_turn,
    iter_dump,
    list_transcripts,
    metadata_keys,
    metadata_values,
    stats,
    transcript_ids_where,
    transcript_metadata,
    turns_of,
)
from core.store.transcripts import delete_transcripts as _delete_from_store

__all__ = [
    "DeletionImpact", "MetadataKey", "Stats", "Transcript", "Turn", "count_transcripts", "delete_transcripts",
    "deletion_impact", "get_transcript", "get_turn", "iter_dump", "list_transcripts", "metadata_keys",
    "metadata_values", "stats", "transcript_ids_where", "transcript_metadata", "turns_of",
]


def delete_transcripts(store: Store, transcript_ids: list[int], *, with_datasets: bool = False) -> DeletionImpact:
    """``core.store.transcripts.delete_transcripts``, then the files the deleted datasets kept
    in the workspace (``core.datasets.rendered``) go too: their text goes with the transcripts."""
    # imported here: listing transcripts (the command line's start-up) needs none of core.datasets
    from core.datasets import rendered

    impact = _delete_from_store(store, transcript_ids, with_datasets=with_datasets)
    rendered.prune(store)
    return impact
