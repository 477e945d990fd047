"""The J/K order: every eligible therapist turn, across transcripts.

Built once per minimum-words setting on the database thread (a million-turn
workspace has a few hundred thousand eligible turns); moving is then a dict
lookup and an index step, with no query per key press.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

from core.ids import TranscriptId, TurnId


class EligibleOrder:
    def __init__(self, pairs: Sequence[tuple[TurnId, TranscriptId]]) -> None:
        # Built on the GUI thread from a few hundred thousand pairs at 1M turns:
        # zip and dict() keep the loops in C.
        turns, transcripts = zip(*pairs) if pairs else ((), ())
        self.turns: list[TurnId] = list(turns)
        self.transcripts: list[TranscriptId] = list(transcripts)
        n = len(self.turns)
        self._index: dict[TurnId, int] = dict(zip(self.turns, range(n)))
        # Filled from the end, so each transcript keeps the index of its first turn.
        self._first: dict[TranscriptId, int] = dict(zip(reversed(self.transcripts), range(n - 1, -1, -1)))

    def __len__(self) -> int:
        return len(self.turns)

    def __contains__(self, turn_id: object) -> bool:
        return turn_id in self._index

    def index_of(self, turn_id: TurnId) -> int | None:
        return self._index.get(turn_id)

    def first_of(self, transcript_id: TranscriptId) -> TurnId | None:
        i = self._first.get(transcript_id)
        return None if i is None else self.turns[i]

    def turns_of(self, transcript_ids: Container[TranscriptId]) -> list[TurnId]:
        return [t for t, tr in zip(self.turns, self.transcripts, strict=True) if tr in transcript_ids]

    def step(
        self, index: int, step: int, allowed: Container[TranscriptId] | None = None
    ) -> tuple[TurnId, TranscriptId] | None:
        """The next entry after ``index`` in direction ``step`` (±1) whose transcript is allowed."""
        i = index + step
        while 0 <= i < len(self.turns):
            if allowed is None or self.transcripts[i] in allowed:
                return self.turns[i], self.transcripts[i]
            i += step
        return None

    def leave_transcript(
        self, transcript_id: TranscriptId, step: int, allowed: Container[TranscriptId] | None = None
    ) -> tuple[TurnId, TranscriptId] | None:
        """The eligible turn just past this transcript's eligible turns, in direction ``step``."""
        first = self._first.get(transcript_id)
        if first is not None:
            i = first
            if step > 0:
                while i + 1 < len(self.turns) and self.transcripts[i + 1] == transcript_id:
                    i += 1
            return self.step(i, step, allowed)
        # A transcript with no eligible turn: order by id, as the list does.
        candidates = range(len(self.turns)) if step > 0 else range(len(self.turns) - 1, -1, -1)
        for i in candidates:
            tr = self.transcripts[i]
            if (tr > transcript_id if step > 0 else tr < transcript_id) and (allowed is None or tr in allowed):
                return self.turns[i], tr
        return None

    def step_transcript(
        self, transcript_id: TranscriptId, step: int, allowed: Container[TranscriptId] | None = None
    ) -> tuple[TurnId, TranscriptId] | None:
        """First eligible turn of the next (or previous) transcript that has one."""
        start = self._first.get(transcript_id)
        if start is None:
            return None
        i = start
        while 0 <= i < len(self.turns) and self.transcripts[i] == transcript_id:
            i += 1 if step > 0 else -1
        while 0 <= i < len(self.turns):
            tr = self.transcripts[i]
            if tr != transcript_id and (allowed is None or tr in allowed):
                first = self._first[tr]
                return self.turns[first], tr
            i += 1 if step > 0 else -1
        return None
