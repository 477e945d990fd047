"""Transcript importers, picked by sniffing the content (``--format`` forces one).

Each format lives in its own module and registers here. ``parse_bytes`` is the
single entry point the import pipeline uses; it always raises ``ImportFailed``
(never anything else) for input it cannot read.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ImportFailed
from core.importers.base import DEFAULT_SPEAKER_MAP, MAX_FILE_BYTES, Importer, ImportOptions
from core.models import ParsedTranscript

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
    # line, then plain text, which accepts anything and explains what it cannot read.
    from core.importers import annomi, chat, docx, text

    for module in (docx, annomi, chat, text):
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
        transcripts = FORMATS[format].parse(path, data, options)
    except ImportFailed:
        raise
    except Exception as exc:  # an importer bug must still be one line about this file
        raise ImportFailed(path, f"could not be read as {format}: {type(exc).__name__}: {exc}") from exc
    if not transcripts or not any(t.turns for t in transcripts):
        raise ImportFailed(path, "no speaker turns found")
    return [t for t in transcripts if t.turns]
