"""What every importer provides, and the options they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.models import Category, ParsedTranscript, Role

if TYPE_CHECKING:
    from core.importers.csv_mapped import CsvMapping

MAX_FILE_BYTES = 50 * 1024 * 1024

# Upper-case speaker labels as written → role. Users extend it with --speaker-map.
DEFAULT_SPEAKER_MAP: dict[str, Role] = {
    "THERAPIST": Role.THERAPIST,
    "COUNSELOR": Role.THERAPIST,
    "COUNSELLOR": Role.THERAPIST,
    "INTERVIEWER": Role.THERAPIST,
    "PSYCHOLOGIST": Role.THERAPIST,
    "PSYCHIATRIST": Role.THERAPIST,
    "DOCTOR": Role.THERAPIST,
    "DR": Role.THERAPIST,
    "T": Role.THERAPIST,
    "CLIENT": Role.CLIENT,
    "PATIENT": Role.CLIENT,
    "C": Role.CLIENT,
    "P": Role.CLIENT,
}


@dataclass(slots=True)
class ImportOptions:
    speaker_map: dict[str, Role] = field(default_factory=lambda: dict(DEFAULT_SPEAKER_MAP))
    # Overrides whatever category the file's header says.
    category: Category | None = None
    # How to read a CSV that is not AnnoMI (--csv-map); without one such a CSV is refused.
    csv_map: CsvMapping | None = None


class Importer(Protocol):
    name: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """True if ``head`` (the first few KB) looks like this format."""

    def parse(self, path: Path, data: bytes, options: ImportOptions) -> list[ParsedTranscript]:
        """All sessions in the file, cleaned. Raises ImportFailed with a one-line reason."""
