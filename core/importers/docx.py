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
from core.text_safety import one_line, storable

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


# A real transcript's document.xml is a few MB; the zip-bomb .docx that took 5.7 GB
# declared small members and inflated far past them.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
MAX_MEMBERS = 2000
_CHUNK = 1 << 20


def check_archive(path: Path, data: bytes) -> None:
    """ImportFailed unless every member of the zip inflates within the bounds.

    The members are inflated here, counting bytes as they come, because a zip's
    declared sizes are written by whoever made the file; python-docx then reads
    only members known to be small.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise ImportFailed(path, f"not a .docx file ({len(members)} archive members)")
            total = 0
            for info in members:
                if info.is_dir():
                    continue
                declared = info.file_size
                if declared > MAX_MEMBER_BYTES or total + declared > MAX_TOTAL_BYTES:
                    raise ImportFailed(path, _bomb(info.filename))
                size = 0
                with archive.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                            raise ImportFailed(path, _bomb(info.filename))
    except ImportFailed:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        detail = one_line(str(exc))[:120] or type(exc).__name__
        raise ImportFailed(path, f"not a readable .docx file (damaged zip archive: {detail})") from None
    except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encryption
        detail = one_line(str(exc))[:120] or type(exc).__name__
        raise ImportFailed(path, f"not a readable .docx file ({detail})") from None
    except Exception as exc:  # zlib.error and friends from a damaged member
        detail = one_line(f"{type(exc).__name__}: {exc}")[:120]
        raise ImportFailed(path, f"not a readable .docx file ({detail})") from None


def _bomb(member: str) -> str:
    return (
        f"refused: archive member {one_line(member)[:80]!r} inflates past "
        f"{MAX_MEMBER_BYTES // (1024 * 1024)} MB (or all members past "
        f"{MAX_TOTAL_BYTES // (1024 * 1024)} MB); a zip bomb, not a transcript"
    )


def docx_text(path: Path, data: bytes) -> tuple[str, str | None]:
    """(the document's body text, its core-properties title)."""
    check_archive(path, data)
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
        detail = one_line(str(exc).splitlines()[0])[:120] if str(exc).strip() else type(exc).__name__
        raise ImportFailed(path, f"not a readable .docx file ({detail})") from None
    title = storable(title) if title else None
    return storable("\n".join(lines).replace("\r", "\n")), title


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
