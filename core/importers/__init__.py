"""Transcript importers, picked by sniffing the content (``--format`` forces one).

Each format lives in its own module and registers here. ``parse_bytes`` is the
single entry point the import pipeline uses; it always raises ``ImportFailed``
(never anything else) for input it cannot read.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ImportFailed
from core.importers.base import DEFAULT_SPEAKER_MAP, MAX_FILE_BYTES, Importer, ImportOptions
from core.importers.decoding import collect_notes
from core.models import ParsedTranscript
from core.text_safety import one_line

__all__ = [
    "DEFAULT_SPEAKER_MAP",
    "FORMATS",
    "MAX_FILE_BYTES",
    "ImportOptions",
    "detect_format",
    "parse_bytes",
]

# name → importer, in sniffing order (most specific first). Filled in by the
# format modules; see _register_builtin().
FORMATS: dict[str, Importer] = {}


def _register_builtin() -> None:
    # Sniffing order: the zip container first, then the shapes with a telling first
    # line, then other CSVs (read through a column mapping), then plain text, which
    # accepts anything and explains what it cannot read.
    from core.importers import annomi, chat, csv_mapped, docx, text

    for module in (docx, annomi, chat, csv_mapped, text):
        FORMATS[module.IMPORTER.name] = module.IMPORTER


_register_builtin()


def detect_format(path: Path, data: bytes) -> str:
    head = data[:65536]
    for name, importer in FORMATS.items():
        if importer.sniff(path, head):
            return name
    raise ImportFailed(path, "not a recognised transcript format")


def parse_bytes(
    path: Path, data: bytes, *, format: str | None = None, options: ImportOptions | None = None
) -> list[ParsedTranscript]:
    options = options or ImportOptions()
    if not data.strip():
        raise ImportFailed(path, "the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImportFailed(path, f"the file is over {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if format is None:
        format = detect_format(path, data)
    elif format not in FORMATS:
        raise ImportFailed(path, f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    try:
        with collect_notes() as notes:
            transcripts = FORMATS[format].parse(path, data, options)
    except ImportFailed:
        raise
    except RecursionError:
        raise ImportFailed(path, f"could not be read as {format}: nested too deeply") from None
    except Exception as exc:  # an importer bug must still be one line about this file
        detail = one_line(f"{type(exc).__name__}: {exc}")[:200]
        raise ImportFailed(path, f"could not be read as {format}: {detail}") from exc
    if not transcripts or not any(t.turns for t in transcripts):
        raise ImportFailed(path, "no speaker turns found")
    kept = [t for t in transcripts if t.turns]
    if notes:
        # Stored with the transcript (provenance) and shown in the import's line for the file.
        for t in kept:
            t.metadata["decoding"] = "; ".join(notes)
    return kept
