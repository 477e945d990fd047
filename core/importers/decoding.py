"""Bytes → text for the text-based formats: encodings, and refusing binary files.

Tried in order: a BOM (UTF-8, UTF-16, UTF-32), UTF-16 without a BOM (sniffed
from the zero bytes of mostly-ASCII text), then UTF-8. A UTF-8 file with a few
stray bytes stays UTF-8: each bad byte becomes U+FFFD and the import reports
how many and on which lines (re-decoding the whole file as Windows-1252 would
corrupt every accented character in it). Only a file with more undecodable
sequences than valid multi-byte ones, i.e. not UTF-8 at all, is read as
Windows-1252, the usual encoding of transcripts saved by Word on Windows, and
the import says so. Anything else is one ``ImportFailed`` line: binary, or
undecodable.

What was repaired is told through ``collect_notes``: the importers' signatures
stay text-in, transcripts-out, and ``parse_bytes`` attaches the notes.
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import re
from collections.abc import Iterator
from pathlib import Path

from core.errors import ImportFailed

BINARY = "binary file, not a transcript"

_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF-", "a PDF file, not a transcript; save it as .txt or .docx first"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Word .doc (or other OLE) file; save it as .docx first"),
    (b"{\\rtf", "an RTF file; save it as .txt or .docx first"),
    (b"PK\x03\x04", "a zip archive, not a transcript"),
    (b"\x89PNG", "an image, not a transcript"),
    (b"\xff\xd8\xff", "an image, not a transcript"),
    (b"GIF8", "an image, not a transcript"),
    (b"\x1f\x8b", "a gzip archive, not a transcript"),
    (b"SQLite format 3\x00", "a database file, not a transcript"),
]

# Control bytes that never occur in text (tab, newlines, form feed, ESC are allowed).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_SNIFF = 4096


def _control_share_too_high(n_control: int, n_total: int) -> bool:
    # Real transcripts have none; allow a stray one in a long file (a pasted form feed or
    # a bell), not a pattern.
    return n_control > max(1, n_total // 1000)


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[: _SNIFF - (_SNIFF % 2)]
    if len(sample) < 4 or b"\x00" not in sample:  # no zero byte: neither test below can pass
        return None
    even, odd = sample[0::2], sample[1::2]
    pairs = len(odd)
    zero_even, zero_odd = even.count(0), odd.count(0)
    # Mostly-Latin UTF-16 text has a zero in every other byte.
    if zero_odd >= 0.4 * pairs and zero_even <= 0.02 * pairs:
        return "utf-16-le"
    if zero_even >= 0.4 * pairs and zero_odd <= 0.02 * pairs:
        return "utf-16-be"
    return None


def _sniff_encoding(data: bytes) -> tuple[str, int]:
    """(codec name, BOM length) for ``data``; raises nothing."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", 0
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0
    sniffed = _utf16_without_bom(data[:_SNIFF])
    if sniffed:
        return sniffed, 0
    return "utf-8", 0


def peek_text(head: bytes) -> str:
    """Best-effort text of a file's first bytes, for sniffing formats (never raises)."""
    encoding, skip = _sniff_encoding(head)
    if encoding.startswith(("utf-16", "utf-32")):
        return head.decode(encoding, errors="replace")
    return head[skip:].decode("utf-8", errors="replace")


def _lf_line_ends(data: bytes) -> bytes:
    if b"\r" not in data:
        return data
    # split/join: about twice as fast as bytes.replace for a two-byte pattern.
    data = b"\n".join(data.split(b"\r\n"))
    return data.replace(b"\r", b"\n") if b"\r" in data else data


def decode_text(path: Path, data: bytes, *, form_feeds: bool = False) -> str:
    """The file's text with newlines normalised to ``\\n``; ImportFailed if it is not text.

    ``form_feeds=True`` keeps form feeds (page breaks) for the caller to read
    (``importers/furniture.py``); otherwise each becomes a line break."""
    for magic, reason in _MAGIC:
        if data.startswith(magic):
            raise ImportFailed(path, reason)
    encoding, skip = _sniff_encoding(data)
    if encoding == "utf-8":
        head = data[:65536]
        if b"\x00" in head:
            raise ImportFailed(path, BINARY)
        n_control = len(head) - len(head.translate(None, _CONTROL_BYTES))
        if _control_share_too_high(n_control, len(head)):
            raise ImportFailed(path, BINARY)
        body = data[skip:]
        try:
            # Line ends normalised in the bytes: the same text (no UTF-8 sequence holds a CR
            # or LF byte) at a third of the cost of str.replace on a file with one é.
            text = _lf_line_ends(body).decode("utf-8")
        except UnicodeDecodeError:
            text = _utf8_with_repairs(path, body)
    else:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                path, f"cannot be decoded as {encoding.upper()} (invalid bytes at offset {exc.start})"
            ) from None
        if text.startswith("\ufeff"):
            text = text[1:]
        head_text = text[:65536]
        if "\x00" in head_text or _control_share_too_high(
            len(_CONTROL_CHARS.findall(head_text)), len(head_text)
        ):
            raise ImportFailed(path, BINARY)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\f" in text or "\v" in text:
        # A form feed is a page break: a line break as far as turns are concerned.
        text = text.replace("\v", "\n") if form_feeds else text.replace("\f", "\n").replace("\v", "\n")
    if "\x00" in text:
        # Past the binary sniff (the first 64 KB): a NUL is never text, and truncates it downstream.
        _note(f"{text.count(chr(0))} NUL bytes removed")
        text = text.replace("\x00", "")
    if not text.strip():
        raise ImportFailed(path, "the file is empty")
    return text


# What decoding repaired ########################################################

_NOTES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("decoding_notes", default=None)
MAX_LINES_NAMED = 10


def _note(note: str) -> None:
    notes = _NOTES.get()
    if notes is not None and note not in notes:
        notes.append(note)


@contextlib.contextmanager
def collect_notes() -> Iterator[list[str]]:
    """Inside the block, what ``decode_text`` repaired is appended to the yielded list."""
    notes: list[str] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


_ESCAPED = re.compile("[\udc80-\udcff]+")


def _utf8_with_repairs(path: Path, data: bytes) -> str:
    """Text of UTF-8 ``data`` that has undecodable bytes, or of a file that is not UTF-8 at all."""
    # surrogateescape keeps every undecodable byte as one U+DC80..U+DCFF, so they can be
    # counted and located before being replaced.
    text = data.decode("utf-8", errors="surrogateescape")
    bad_runs = list(_ESCAPED.finditer(text))
    bad_bytes = sum(m.end() - m.start() for m in bad_runs)
    valid_multibyte = len(text) - len(text.encode("ascii", "ignore")) - bad_bytes
    if bad_runs and valid_multibyte < len(bad_runs):
        # More broken sequences than good ones: not UTF-8 with a stray byte, another encoding.
        try:
            legacy = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                path,
                f"cannot be decoded (byte 0x{data[exc.start]:02x} at offset {exc.start} is not "
                "valid UTF-8, UTF-16 or Windows-1252 text)",
            ) from None
        _note("not UTF-8: decoded as Windows-1252")
        return legacy
    lines: list[int] = []
    line, pos = 1, 0
    for m in bad_runs:
        line += text.count("\n", pos, m.start())
        pos = m.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    named = ", ".join(str(n) for n in lines[:MAX_LINES_NAMED]) + (", …" if len(lines) > MAX_LINES_NAMED else "")
    _note(
        f"{bad_bytes} undecodable byte{'s' if bad_bytes != 1 else ''} shown as \ufffd "
        f"(line{'s' if len(lines) != 1 else ''} {named})"
    )
    return _ESCAPED.sub(lambda m: "\ufffd" * (m.end() - m.start()), text)
