"""What every importer provides, and the options they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.models import Category, ParsedTranscript, Role

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


@dataclass(frozen=True, slots=True)
class CsvMapping:
    """Which column is what. ``columns`` maps a mapping key ("text") to a CSV column name."""

    kind: str
    columns: dict[str, str]
    # CSV column → metadata key
    metadata: dict[str, str] = field(default_factory=dict)
    # values of the role (or speaker) column → role, matched without case
    roles: dict[str, Role] = field(default_factory=dict)
    delimiter: str | None = None
    # prefix of client keys; the file name's stem when absent
    name: str | None = None
    source: str = "the mapping"

    def column(self, key: str) -> str | None:
        return self.columns.get(key)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, **self.columns}
        if self.metadata:
            same = all(k == v for k, v in self.metadata.items())
            out["metadata"] = list(self.metadata) if same else dict(self.metadata)
        if self.roles:
            out["roles"] = {k: v.value for k, v in self.roles.items()}
        if self.delimiter:
            out["delimiter"] = self.delimiter
        if self.name:
            out["name"] = self.name
        return out


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
