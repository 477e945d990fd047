"""Typed ids, so a turn id is never passed where a transcript id belongs."""

from __future__ import annotations

from typing import NewType

TranscriptId = NewType("TranscriptId", int)
TurnId = NewType("TurnId", int)
DecisionId = NewType("DecisionId", int)
DatasetId = NewType("DatasetId", int)
SystemId = NewType("SystemId", int)
