"""The workspace's transcripts, for the screens and the command line: list, read, describe, delete.

Importing them is ``core.importing``; deciding about their turns is
``core.curation``. The SQL is ``core.store.transcripts``; callers above the
domain (``cli``, ``desktop``) come through here, never to the store module.
"""

from __future__ import annotations

from core.models import DeletionImpact, Transcript, Turn
from core.store.transcripts import (
    MetadataKey,
    Stats,
    count_transcripts,
    delete_transcripts,
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

__all__ = [
    "DeletionImpact", "MetadataKey", "Stats", "Transcript", "Turn", "count_transcripts", "delete_transcripts",
    "deletion_impact", "get_transcript", "get_turn", "iter_dump", "list_transcripts", "metadata_keys",
    "metadata_values", "stats", "transcript_ids_where", "transcript_metadata", "turns_of",
]
