"""Plain-text speaker-labelled transcripts (Counseling and Psychotherapy Transcripts style).

    Title: Session 4 with Maya
    Client: Maya
    Category: Anxiety
    Session: 4
    BEGIN TRANSCRIPT:
    THERAPIST: How has the week been?
    CLIENT: Long. [sighs] I barely slept.
    DR. LEE: ...
    END TRANSCRIPT

Header lines are optional; so are the BEGIN/END markers (without them, the
header is the run of ``Key: value`` lines before the first speaker line, and
several BEGIN/END blocks make several sessions). A speaker line starts with an
upper-case label and a colon; a mixed-case label (``Therapist:``) counts only
when the label map knows it. Everything up to the next speaker line belongs to
the turn, however it wraps. ``parse_document`` is shared with the .docx importer.

Page furniture of PDF exports (running heads, ``Page 12 of 40``, print stamps,
form feeds) is taken out of the whole document first (``importers/furniture.py``),
so a sentence broken by a page joins up; each turn's raw text keeps it as imported
and each session counts the lines removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from core.errors import ImportFailed
from core.importers.base import ImportOptions
from core.importers.decoding import decode_text
from core.importers.furniture import declared_title, strip_furniture
from core.importers.turns import SpeakerRoles, assemble_turns
from core.models import Category, ParsedTranscript, Role

_H = r"[^\S\n]"
_TS = r"\d{1,2}(?::\d{2}){1,2}(?:[.,]\d{1,3})?"
_BEGIN = re.compile(rf"^{_H}*BEGIN{_H}+TRANSCRIPT{_H}*:?{_H}*", re.M | re.I)
_END = re.compile(rf"^{_H}*END{_H}+(?:OF{_H}+)?TRANSCRIPT\b[^\n]*", re.M | re.I)
# An optional timestamp before the label ("[00:01:23] THERAPIST:", "1:23 - CLIENT:") or
# between label and colon ("CLIENT (00:01:23):"): where it can never be speech.
_SPEAKER_LINE = re.compile(
    rf"^{_H}*(?:[\[(]?{_TS}[\])]?{_H}*(?:[-\u2013\u2014|]{_H}*)?)?"
    rf"(?P<label>[A-Za-z][A-Za-z0-9.'\u2019&/ -]{{0,39}}?)"
    rf"{_H}*+(?:[\[(]{_TS}[\])]{_H}*+)?:(?![/\d])",
    re.M,
)
# Greedy ".*" for the value (stripped afterwards): a lazy value before trailing
# whitespace would be quadratic on a line with a long run of spaces.
_HEADER_LINE = re.compile(rf"^{_H}*(?P<key>[A-Za-z][A-Za-z .'/#-]{{0,40}}?){_H}*+:(?P<value>.*)$")
_NAME_SPLIT = re.compile(r"[,;&/+]|\band\b")

_TITLE_KEYS = {"title", "session title", "transcript title"}
_CLIENT_KEYS = {"client", "clients", "client name", "client names", "patient", "patient name"}
_CLIENT_ID_KEYS = {"client id", "client key", "client code"}
_CATEGORY_KEYS = {"category", "categories", "symptom", "symptoms", "presenting problem", "presenting issue"}
_SESSION_KEYS = {"session", "session number", "session no", "session #"}
_DATE_KEYS = {"date", "session date", "recorded", "date recorded"}
# Keys recognised as header lines before the first turn when there are no BEGIN/END markers.
HEADER_KEYS = (
    _TITLE_KEYS
    | _CLIENT_KEYS
    | _CLIENT_ID_KEYS
    | _CATEGORY_KEYS
    | _SESSION_KEYS
    | _DATE_KEYS
    | {"note", "notes", "therapist", "counselor", "counsellor", "source", "duration", "language", "time"}
)

# Word stems → category, for headers that do not name a category exactly ("anxious mood").
_CATEGORY_STEMS = [
    ("anxi", Category.ANXIETY),
    ("panic", Category.ANXIETY),
    ("depress", Category.DEPRESSION),
    ("fatigu", Category.FATIGUE),
    ("exhaust", Category.FATIGUE),
    ("frustrat", Category.FRUSTRATION),
    ("sad", Category.SADNESS),
    ("anger", Category.ANGER),
    ("angry", Category.ANGER),
]


def category_from_text(value: str) -> Category | None:
    """The category a header names: exactly, else the first listed item with a known stem."""
    try:
        return Category.parse(value)
    except ValueError:
        pass
    for item in _NAME_SPLIT.split(value.casefold()):
        item = item.strip()
        for stem, category in _CATEGORY_STEMS:
            if item.startswith(stem) or f" {stem}" in f" {item}":
                return category
    return None


def _looks_like_name_value(value: str) -> bool:
    # "Client: Maya Chen" is a header; "Client: I don't know." is somebody talking.
    value = value.strip()
    return bool(value) and len(value.split()) <= 6 and value[-1] not in ".?!\"'"


class _Header:
    def __init__(self) -> None:
        self.title: str | None = None
        self.client_names: list[str] = []
        self.client_id: str | None = None
        self.category: Category | None = None
        self.metadata: dict[str, str] = {}

    def add(self, key: str, value: str) -> None:
        key = " ".join(key.split()).casefold()
        value = value.strip()
        if not value:
            return
        if key in _TITLE_KEYS:
            self.title = self.title or value
        elif key in _CLIENT_KEYS:
            for name in _NAME_SPLIT.split(value):
                name = name.strip().strip(".").strip()
                if name and name not in self.client_names:
                    self.client_names.append(name)
        elif key in _CLIENT_ID_KEYS:
            self.client_id = value
        elif key in _CATEGORY_KEYS:
            self.metadata["category_raw"] = value
            self.category = self.category or category_from_text(value) or Category.OTHER
        elif key in _SESSION_KEYS:
            self.metadata["session"] = value
        elif key in _DATE_KEYS:
            self.metadata["date"] = value
        else:
            self.metadata.setdefault(key, value)


def _is_upper_label(label: str) -> bool:
    return label == label.upper() and len(label.split()) <= 4


def _parse_header_block(text: str, header: _Header) -> str | None:
    """Read every ``Key: value`` line of a preamble; returns its first other line (a title)."""
    first_other = None
    for line in text.split("\n"):
        if not line.strip():
            continue
        m = _HEADER_LINE.match(line)
        if m and m.group("value").strip():
            header.add(m.group("key"), m.group("value"))
        elif first_other is None and len(line.strip()) <= 200:
            first_other = line.strip()
    return first_other


def _split_body(
    body: str, roles: SpeakerRoles, header: _Header | None
) -> tuple[list[tuple[Role, str, int, int]], int]:
    """Speaker turns of ``body`` as (role, label, start, end) spans. With ``header`` (no
    BEGIN/END markers), header lines before the first turn are read into it; returns the
    turns and where the text before the first turn ends."""
    utterances: list[tuple[Role, str, int, int]] = []
    decided: dict[str, bool] = {}
    current: tuple[Role, str] | None = None
    start = 0
    preamble_end = 0
    for m in _SPEAKER_LINE.finditer(body):
        label = m.group("label").strip()
        if current is None and header is not None:
            key = " ".join(label.split()).casefold()
            if key in HEADER_KEYS:
                line_end = body.find("\n", m.end())
                value = body[m.end() : line_end if line_end >= 0 else len(body)]
                if roles.known(label) is None or (
                    not _is_upper_label(label) and _looks_like_name_value(value)
                ):
                    header.add(label, value)
                    continue
        is_label = decided.get(label)
        if is_label is None:
            is_label = decided[label] = _is_upper_label(label) or roles.known(label) is not None
        if not is_label:
            continue
        if current is None:
            preamble_end = m.start()
        else:
            utterances.append((current[0], current[1], start, m.start()))
        current = (roles.role(label), label)
        start = m.end()
    if current is not None:
        utterances.append((current[0], current[1], start, len(body)))
    else:
        preamble_end = len(body)
    return utterances, preamble_end


def _protector(roles: SpeakerRoles) -> Callable[[str], bool]:
    """Lines that are never page furniture, however often they repeat: BEGIN/END markers,
    header lines and lines of a known speaker ("THERAPIST: Okay." on every page is speech)."""

    def protect(line: str) -> bool:
        # Most lines asked about are speech of a known speaker: that test first, and
        # only where the colon a speaker line needs is there.
        m = _SPEAKER_LINE.match(line) if ":" in line else None
        if m is not None:
            label = m.group("label").strip()
            if roles.known(label) is not None or " ".join(label.split()).casefold() in HEADER_KEYS:
                return True
        return bool(_BEGIN.match(line) or _END.match(line))

    return protect


def parse_document(
    path: Path,
    text: str,
    *,
    format: str,
    options: ImportOptions,
    fallback_title: str | None = None,
) -> list[ParsedTranscript]:
    """Sessions of a speaker-labelled document (already decoded, ``\\n`` newlines; form
    feeds, if kept, mark page breaks)."""
    roles = SpeakerRoles(options.speaker_map)
    # Page furniture goes before anything else: a running head can look like a speaker
    # line, and a turn broken by a page must join up. Turns keep the text as imported.
    doc = strip_furniture(text, title=declared_title(text), protect=_protector(roles))
    text = doc.text
    blocks: list[tuple[_Header, int, int, str | None, int]] = []  # header, body span, title, start
    begins = list(_BEGIN.finditer(text))
    if begins:
        file_header = _Header()
        previous_end = 0
        for i, begin in enumerate(begins):
            stop = begins[i + 1].start() if i + 1 < len(begins) else len(text)
            end = _END.search(text, begin.end(), stop)
            header = _Header()
            title_line = _parse_header_block(text[previous_end : begin.start()], header)
            if i == 0:
                file_header = header
            else:  # later sessions inherit what they do not say themselves
                header.title = header.title or file_header.title
                header.client_names = header.client_names or file_header.client_names
                header.client_id = header.client_id or file_header.client_id
                header.category = header.category or file_header.category
                header.metadata = {**file_header.metadata, **header.metadata}
            body_end = end.start() if end else stop
            blocks.append((header, begin.end(), body_end, title_line, previous_end))
            previous_end = end.end() if end else stop
    else:
        blocks.append((_Header(), 0, len(text), None, 0))

    out: list[ParsedTranscript] = []
    for n, (header, body_start, body_end, title_line, block_start) in enumerate(blocks, start=1):
        body = text[body_start:body_end]
        if begins:
            spans, _ = _split_body(body, roles, None)
        else:
            spans, preamble_end = _split_body(body, roles, header)
            title_line = _parse_header_block(body[:preamble_end], header)
        if doc.removed:
            at = doc.original_offset
            original = doc.original
            utterances = [
                (role, label, original[at(body_start + a) : at(body_start + b)])
                for role, label, a, b in spans
            ]
            turns = assemble_turns(utterances, spoken=[body[a:b] for _, _, a, b in spans])
            block_end = blocks[n][4] if n < len(blocks) else len(text)
            # (from the file's start for the first session: a head above its first line is its own)
            furniture = doc.removed_between(at(block_start) if block_start else 0, at(block_end))
        else:
            turns = assemble_turns([(role, label, body[a:b]) for role, label, a, b in spans])
            furniture = 0
        title = (
            header.title or title_line or fallback_title or (doc.heads[0] if doc.heads else None) or path.stem
        )
        if len(blocks) > 1 and not header.title:
            title = f"{title} ({n})"
        names = header.client_names
        client_key = header.client_id or (
            "name:" + "+".join(n.casefold() for n in names) if names else None
        )
        out.append(
            ParsedTranscript(
                title=title,
                format=format,
                turns=turns,
                category=options.category or header.category or Category.OTHER,
                client_key=client_key,
                client_names=list(names),
                metadata=dict(header.metadata),
                unknown_labels=list(roles.unknown),
                furniture_lines=furniture,
            )
        )
    if not any(t.turns for t in out):
        raise ImportFailed(
            path, "no speaker turns found (expected lines starting with a label like 'THERAPIST:')"
        )
    return out


class TextImporter:
    name = "text"

    def sniff(self, path: Path, head: bytes) -> bool:
        # The fallback format: anything left over is tried as text, and parse() says
        # clearly when it is binary or has no speaker turns.
        return True

    def parse(self, path: Path, data: bytes, options: ImportOptions) -> list[ParsedTranscript]:
        text = decode_text(path, data, form_feeds=True)
        return parse_document(path, text, format=self.name, options=options)


IMPORTER = TextImporter()
