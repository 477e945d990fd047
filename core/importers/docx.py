""".docx transcripts, read with python-docx and parsed like plain text.

Body paragraphs and tables are read in document order; a table row becomes
``LABEL: text`` when its first cell is a short speaker label (the two-column
"Speaker | Words" layout), otherwise its cells joined. Word's page headers and
footers live outside the body and are never read, so they cannot leak into turns.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from core.errors import ImportFailed
from core.importers.base import ImportOptions
from core.importers.text import parse_document
from core.models import ParsedTranscript

_TS_CELL = re.compile(r"[\[(]?\d{1,2}(?::\d{2}){1,2}(?:[.,]\d{1,3})?[\])]?")
_LABEL_CELL = re.compile(r"[A-Za-z][A-Za-z0-9.'\u2019&/ -]{0,39}")


def _row_line(cells: list[str]) -> str:
    # Merged cells repeat their text in python-docx; keep each distinct cell once.
    distinct: list[str] = []
    for cell in cells:
        cell = cell.strip()
        if cell and (not distinct or distinct[-1] != cell):
            distinct.append(cell)
    if distinct and _TS_CELL.fullmatch(distinct[0]):
        distinct = distinct[1:]  # a "Time | Speaker | Words" layout
    if len(distinct) >= 2:
        label = distinct[0].rstrip(":").strip()
        if _LABEL_CELL.fullmatch(label):
            return f"{label}: {' '.join(distinct[1:])}"
    return " ".join(distinct)


def docx_text(path: Path, data: bytes) -> tuple[str, str | None]:
    """(the document's body text, its core-properties title)."""
    try:
        from docx import Document
        from docx.table import Table

        document = Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_row_line([c.text for c in row.cells]) for row in block.rows)
            else:
                lines.append(block.text)
        title = (document.core_properties.title or "").strip() or None
    except ImportFailed:
        raise
    except zipfile.BadZipFile:
        raise ImportFailed(path, "not a readable .docx file (damaged zip archive)") from None
    except Exception as exc:  # python-docx/lxml raise many kinds for damaged files
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ImportFailed(path, f"not a readable .docx file ({detail})") from None
    return "\n".join(lines).replace("\r", "\n"), title


class DocxImporter:
    name = "docx"

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"PK\x03\x04") and (
            path.suffix.lower() == ".docx" or b"word/" in head
        )

    def parse(self, path: Path, data: bytes, options: ImportOptions) -> list[ParsedTranscript]:
        text, title = docx_text(path, data)
        if not text.strip():
            raise ImportFailed(path, "the document has no text")
        return parse_document(path, text, format=self.name, options=options, fallback_title=title)


IMPORTER = DocxImporter()
