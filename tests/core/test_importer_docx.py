""".docx transcripts, built here with python-docx."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docx import Document

from core.errors import ImportFailed
from core.importers import detect_format, parse_bytes
from core.models import Category, Role


def docx_bytes(build) -> bytes:
    document = Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def labelled(document) -> None:
    document.core_properties.title = "Properties title"
    document.sections[0].header.paragraphs[0].text = "CONFIDENTIAL - Page header text"
    document.sections[0].footer.paragraphs[0].text = "Page 1 of 1"
    for line in [
        "Title: Session with Ravi",
        "Client: Ravi",
        "Category: Sadness",
        "BEGIN TRANSCRIPT:",
        "THERAPIST: Hello Ravi. [pause] How are you?",
        "CLIENT: Not great.",
        "It has been a long week.",
        "DR. OKAFOR: I'll join for a moment.",
        "END TRANSCRIPT",
    ]:
        document.add_paragraph(line)


def test_paragraphs_go_through_the_text_parser(tmp_path: Path) -> None:
    data = docx_bytes(labelled)
    assert detect_format(Path("session.docx"), data) == "docx"
    assert detect_format(Path("no-extension"), data) == "docx"
    [t] = parse_bytes(Path("session.docx"), data)
    assert t.format == "docx"
    assert (t.title, t.client_names, t.category) == ("Session with Ravi", ["Ravi"], Category.SADNESS)
    assert [(u.role, u.speaker, u.text) for u in t.turns] == [
        (Role.THERAPIST, "THERAPIST", "Hello Ravi. How are you?"),
        (Role.CLIENT, "CLIENT", "Not great. It has been a long week."),
        (Role.THERAPIST, "DR. OKAFOR", "I'll join for a moment."),
    ]
    assert all("Page" not in u.raw_text and "CONFIDENTIAL" not in u.raw_text for u in t.turns)


def test_two_column_table_layout_and_property_title() -> None:
    def build(document) -> None:
        document.add_paragraph("Intake interview")
        table = document.add_table(rows=0, cols=3)
        for cells in [("00:00:01", "Therapist", "What brings you in today?"),
                      ("00:00:09", "CLIENT:", "My sister suggested it."),
                      ("00:00:15", "CLIENT", "She worries about me.")]:
            row = table.add_row().cells
            for cell, text in zip(row, cells, strict=True):
                cell.text = text
        document.add_paragraph("THERAPIST: Thank you for coming.")

    [t] = parse_bytes(Path("intake.docx"), docx_bytes(build))
    assert t.title == "Intake interview"
    assert [(u.role, u.text) for u in t.turns] == [
        (Role.THERAPIST, "What brings you in today?"),
        (Role.CLIENT, "My sister suggested it. She worries about me."),
        (Role.THERAPIST, "Thank you for coming."),
    ]


def test_title_falls_back_to_document_properties() -> None:
    def build(document) -> None:
        document.core_properties.title = "From properties"
        document.add_paragraph("THERAPIST: Hi.")
        document.add_paragraph("CLIENT: Hello.")

    [t] = parse_bytes(Path("x.docx"), docx_bytes(build))
    assert t.title == "From properties"


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (docx_bytes(labelled)[:2000], "not a readable .docx file"),
        (_zip({"word/document.xml": b"<not xml"}), "not a readable .docx file"),
        (_zip({"hello.txt": b"hi"}), "not a readable .docx file"),
        (docx_bytes(lambda d: None), "the document has no text"),
        (docx_bytes(lambda d: d.add_paragraph("Just notes, no speakers.")), "no speaker turns found"),
    ],
    ids=["truncated", "bad-xml", "not-word", "empty", "no-turns"],
)
def test_bad_docx_is_one_clear_line(data: bytes, reason: str) -> None:
    with pytest.raises(ImportFailed) as err:
        parse_bytes(Path("bad.docx"), data)
    assert reason in err.value.reason
    assert err.value.path == "bad.docx" and "\n" not in str(err.value)


def test_a_zip_that_is_not_a_docx_is_refused_as_such() -> None:
    with pytest.raises(ImportFailed, match="zip archive, not a transcript"):
        parse_bytes(Path("archive.zip"), _zip({"a.txt": b"THERAPIST: hi"}))


# Bounded inflation (issue 11: a 4.3 MB zip-bomb .docx took 5.7 GB for 42 s) ####


def _with_member(data: bytes, name: str, size: int) -> bytes:
    """``data`` (a .docx) with member ``name`` replaced by ``size`` bytes of spaces."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED,
                                                                     compresslevel=1) as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info.filename, src.read(info))
        with dst.open(name, "w", force_zip64=True) as f:
            chunk = b" " * (1024 * 1024)
            for _ in range(size // len(chunk)):
                f.write(chunk)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_python_docx_inflates_it(monkeypatch) -> None:
    from core.importers import docx as docx_importer

    monkeypatch.setattr(docx_importer, "MAX_MEMBER_BYTES", 4 * 1024 * 1024)
    bomb = _with_member(docx_bytes(labelled), "word/media/pad.bin", 6 * 1024 * 1024)
    assert len(bomb) < 100_000  # the point of a bomb: tiny on disk
    with pytest.raises(ImportFailed, match=r"'word/media/pad.bin' inflates past 4 MB.*zip bomb"):
        parse_bytes(Path("bomb.docx"), bomb)
    # Under the bound, the same document still imports.
    monkeypatch.setattr(docx_importer, "MAX_MEMBER_BYTES", 8 * 1024 * 1024)
    assert parse_bytes(Path("ok.docx"), bomb)[0].turns


def test_the_total_inflated_size_is_bounded_too(monkeypatch) -> None:
    from core.importers import docx as docx_importer

    monkeypatch.setattr(docx_importer, "MAX_TOTAL_BYTES", 5 * 1024 * 1024)
    data = _with_member(_with_member(docx_bytes(labelled), "word/a.bin", 3 * 1024 * 1024), "word/b.bin",
                        3 * 1024 * 1024)
    with pytest.raises(ImportFailed, match="zip bomb"):
        parse_bytes(Path("two.docx"), data)


def test_declared_sizes_that_lie_are_not_trusted() -> None:
    data = bytearray(docx_bytes(labelled))
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # every uncompressed size := 10
        start = 0
        while (i := data.find(sig, start)) != -1:
            data[i + offset : i + offset + 4] = (10).to_bytes(4, "little")
            start = i + 4
    with pytest.raises(ImportFailed, match="not a readable .docx file"):
        parse_bytes(Path("liar.docx"), bytes(data))
