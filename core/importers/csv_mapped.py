"""Any CSV, read through a column mapping (``attune import --csv-map MAP.json``).

Two shapes of table are mapped (docs/importing.md has an example of each):

- ``turns``: one row per utterance; a session column groups rows into
  transcripts, a role and/or speaker column says who speaks, an optional order
  column sorts them (else file order).
- ``question_answer``: one row per answer, with the client's text and the
  therapist's text side by side (counsel-chat). Each row becomes one two-turn
  transcript; rows sharing the grouping column (one question, several answers)
  share a ``group_id`` in their metadata and one client key, so dataset splits
  keep them together.

Columns listed under ``metadata`` are kept per transcript (whole numbers as
numbers). A CSV that is not AnnoMI and comes without a mapping is refused with
one line naming its columns and a mapping that would read it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from core.bounded_read import read_small_json
from core.errors import ImportFailed, ValidationError
from core.importers.base import CsvMapping, ImportOptions  # CsvMapping re-exported
from core.importers.decoding import decode_text, peek_text
from core.importers.turns import SpeakerRoles, assemble_turns
from core.models import Category, ParsedTranscript, Role

CSV_SUFFIXES = (".csv", ".tsv")
KINDS = ("turns", "question_answer")
# The metadata key that ties the answers of one question together.
GROUP_KEY = "group_id"

# Mapping keys naming a column, per kind; the rest are options.
_COLUMN_KEYS = {
    "turns": ("session", "role", "speaker", "text", "order", "title", "client", "category"),
    "question_answer": ("client_text", "therapist_text", "group", "title", "client", "category",
                        "therapist_speaker"),
}
_REQUIRED = {"turns": ("session", "text"), "question_answer": ("client_text", "therapist_text")}
_OPTION_KEYS = ("kind", "metadata", "roles", "delimiter", "name")
_WHOLE_NUMBER = re.compile(r"^-?\d{1,15}$")


def mapping_from_dict(raw: object, *, source: str = "the mapping") -> CsvMapping:
    """Validate a mapping as read from JSON; ValidationError names ``source`` and the key."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{source}: expected a JSON object (see docs/importing.md)")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValidationError(f"{source}: \"kind\" must be one of {', '.join(KINDS)}, got {kind!r}")
    allowed = set(_COLUMN_KEYS[kind]) | set(_OPTION_KEYS)
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise ValidationError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))} for kind {kind} "
            f"(known: {', '.join(sorted(allowed))})"
        )
    columns: dict[str, str] = {}
    for key in _COLUMN_KEYS[kind]:
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{source}: \"{key}\" must be a column name, got {value!r}")
        columns[key] = value.strip()
    missing = [k for k in _REQUIRED[kind] if k not in columns]
    if kind == "turns" and "role" not in columns and "speaker" not in columns:
        missing.append("role or speaker")
    if missing:
        raise ValidationError(f"{source}: kind {kind} needs {', '.join(map(repr, missing))}")
    metadata = _metadata_columns(raw.get("metadata"), source)
    roles: dict[str, Role] = {}
    raw_roles = raw.get("roles") or {}
    if not isinstance(raw_roles, dict):
        raise ValidationError(f"{source}: \"roles\" must be an object of value → role")
    for value, role in raw_roles.items():
        try:
            roles[str(value).strip().lower()] = Role(str(role).strip().lower())
        except ValueError:
            raise ValidationError(
                f"{source}: roles: {value!r} has role {role!r}; use therapist, client or other"
            ) from None
    delimiter = raw.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ValidationError(f"{source}: \"delimiter\" must be one character, got {delimiter!r}")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValidationError(f"{source}: \"name\" must be a non-empty text, got {name!r}")
    return CsvMapping(kind, columns, metadata, roles, delimiter, name.strip() if name else None, source)


def _metadata_columns(raw: object, source: str) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, list) and all(isinstance(c, str) and c.strip() for c in raw):
        return {c.strip(): c.strip() for c in raw}
    if isinstance(raw, dict) and all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in raw.items()
    ):
        return {k.strip(): v.strip() for k, v in raw.items()}
    raise ValidationError(
        f"{source}: \"metadata\" must be a list of column names or an object of column → key"
    )


def load_csv_mapping(path: Path) -> CsvMapping:
    # Bounded and strict: a FIFO, /dev/zero, deep nesting or NaN is one line (issue 11).
    raw = read_small_json(path)
    return mapping_from_dict(raw, source=str(path))


# Reading the table ############################################################


def _delimiter(path: Path, first_line: str, wanted: str | None) -> str:
    if wanted:
        return wanted
    if path.suffix.lower() == ".tsv":
        return "\t"
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def read_rows(
    path: Path, text: str, *, delimiter: str | None = None, limit: int | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, row)]) of a CSV's text; ``limit`` rows at most (for previews)."""
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(path, first_line, delimiter))
    try:
        header = [c.strip().lstrip("\ufeff") for c in next(reader)]
    except StopIteration:
        raise ImportFailed(path, "the file is empty") from None
    except csv.Error as exc:
        raise ImportFailed(path, f"line 1: not valid CSV ({exc})") from None
    rows: list[tuple[int, list[str]]] = []
    width = len(header)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise ImportFailed(path, f"line {reader.line_num}: expected {width} fields, found {len(row)}")
            rows.append((reader.line_num, row))
            if limit is not None and len(rows) >= limit:
                break
    except csv.Error as exc:
        raise ImportFailed(path, f"line {reader.line_num}: not valid CSV ({exc})") from None
    return header, rows


def preview(
    path: Path, data: bytes, *, rows: int = 5, delimiter: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """The header and up to ``rows`` first rows, for the mapping dialog.

    ``data`` may be only the start of the file: it is cut at its last line break
    and reading stops quietly at a row the cut left incomplete.
    """
    if b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]
    text = decode_text(path, data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(path, first_line, delimiter))
    try:
        header = [c.strip().lstrip("\ufeff") for c in next(reader)]
    except (StopIteration, csv.Error):
        raise ImportFailed(path, "line 1: no CSV header row") from None
    found: list[list[str]] = []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header) or len(found) >= rows:
                break
            found.append(row)
    except csv.Error:
        pass
    return header, found


def table_bytes(header: list[str], rows: list[list[str]], *, delimiter: str = ",") -> bytes:
    """Rows back as a small CSV (what the dialog's live preview parses)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode("utf-8")


def _column_name(c: str) -> str:
    return repr(c) if c else "(unnamed)"


def guess_mapping(columns: list[str]) -> dict[str, Any]:
    """A starting mapping from column names alone: what the error shows and the dialog pre-fills."""
    lower = {c.lower().replace("_", "").replace(" ", ""): c for c in columns if c}

    def pick(*names: str) -> str | None:
        for n in names:
            if n in lower:
                return lower[n]
        for n in names:
            for k, c in lower.items():
                if n in k:
                    return c
        return None

    client = pick("questiontext", "question", "prompt", "input", "clienttext")
    therapist = pick("answertext", "answer", "response", "reply", "output", "therapisttext")
    if client and therapist and client != therapist:
        out: dict[str, Any] = {"kind": "question_answer", "client_text": client, "therapist_text": therapist}
        group = pick("questionid", "conversationid", "threadid")
        if group:
            out["group"] = group
        title = pick("questiontitle", "title", "subject")
        if title:
            out["title"] = title
        return out
    return {
        "kind": "turns",
        "session": pick("sessionid", "session", "conversationid", "conversation", "transcriptid", "dialogid")
        or "SESSION_COLUMN",
        "speaker": pick("speaker", "role", "interlocutor", "who", "participant", "author", "from")
        or "SPEAKER_COLUMN",
        "text": pick("text", "utterance", "message", "content", "transcript") or "TEXT_COLUMN",
    }


def unmapped_csv_error(path: Path, columns: list[str]) -> ImportFailed:
    shown = ", ".join(_column_name(c) for c in columns[:20])
    if len(columns) > 20:
        shown += f", … ({len(columns)} in all)"
    example = json.dumps(guess_mapping(columns), ensure_ascii=False)
    return ImportFailed(
        path,
        f"a CSV with columns {shown}, which is not AnnoMI; say which column is what in a mapping "
        f"file and import with --csv-map MAP.json (the app asks for one when you import it), "
        f"e.g. {example} (docs/importing.md)",
    )


# Parsing ######################################################################


def _value(text: str) -> str | int:
    text = text.strip()
    return int(text) if _WHOLE_NUMBER.match(text) else text


def _indices(path: Path, mapping: CsvMapping, header: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    index: dict[str, int] = {}
    for i, c in enumerate(header):
        index.setdefault(c, i)
    wanted = list(mapping.columns.values()) + list(mapping.metadata)
    missing = [c for c in dict.fromkeys(wanted) if c not in index]
    if missing:
        raise ImportFailed(
            path,
            f"line 1: column(s) {', '.join(map(repr, missing))} named in {mapping.source} not found "
            f"(the file has {', '.join(_column_name(c) for c in header[:20])})",
        )
    cols = {key: index[c] for key, c in mapping.columns.items()}
    meta = {key: index[c] for c, key in mapping.metadata.items()}
    return cols, meta


def _metadata(row: list[str], meta: dict[str, int]) -> dict[str, Any]:
    return {key: _value(row[i]) for key, i in meta.items() if row[i].strip()}


def _category(cols: dict[str, int], row: list[str]) -> Category:
    i = cols.get("category")
    if i is None or not row[i].strip():
        return Category.OTHER
    try:
        return Category.parse(row[i])
    except ValueError:
        return Category.OTHER


class MappedCsvImporter:
    name = "csv"

    def sniff(self, path: Path, head: bytes) -> bool:
        # After AnnoMI and the JSON shapes: a .csv/.tsv that nothing more specific claimed,
        # with a header of several columns (a one-column ".csv" is left to the text importer).
        if path.suffix.lower() not in CSV_SUFFIXES:
            return False
        first_line = peek_text(head[:4096]).split("\n", 1)[0]
        return any(d in first_line for d in (",", ";", "\t"))

    def parse(self, path: Path, data: bytes, options: ImportOptions) -> list[ParsedTranscript]:
        mapping = options.csv_map
        text = decode_text(path, data)
        if mapping is None:
            header, _ = read_rows(path, text.split("\n", 1)[0] + "\n")
            raise unmapped_csv_error(path, header)
        header, rows = read_rows(path, text, delimiter=mapping.delimiter)
        cols, meta = _indices(path, mapping, header)
        prefix = mapping.name or path.stem
        if mapping.kind == "question_answer":
            return _question_answer(path, mapping, rows, cols, meta, prefix, options)
        return _turn_table(path, mapping, rows, cols, meta, prefix, options)


def _question_answer(
    path: Path,
    mapping: CsvMapping,
    rows: list[tuple[int, list[str]]],
    cols: dict[str, int],
    meta: dict[str, int],
    prefix: str,
    options: ImportOptions,
) -> list[ParsedTranscript]:
    i_client, i_ther = cols["client_text"], cols["therapist_text"]
    i_group, i_title = cols.get("group"), cols.get("title")
    i_client_id, i_speaker = cols.get("client"), cols.get("therapist_speaker")
    groups: dict[str, int] = {}
    for _, row in rows:
        if i_group is not None:
            groups[row[i_group].strip()] = groups.get(row[i_group].strip(), 0) + 1
    seen_in_group: dict[str, int] = {}
    out: list[ParsedTranscript] = []
    for line, row in rows:
        group = row[i_group].strip() if i_group is not None else ""
        title = row[i_title].strip() if i_title is not None else ""
        if not title:
            title = f"{prefix} {group or f'line {line}'}".strip()
        if group and groups[group] > 1:
            seen_in_group[group] = seen_in_group.get(group, 0) + 1
            title = f"{title} (answer {seen_in_group[group]} of {groups[group]})"
        # The therapist's label stays "Therapist": a profile blurb is metadata, not a speaker.
        speaker = "Therapist"
        metadata = _metadata(row, meta)
        if group:
            metadata[GROUP_KEY] = _value(group)
        if i_speaker is not None and row[i_speaker].strip():
            metadata.setdefault("therapist", row[i_speaker].strip())
        who = row[i_client_id].strip() if i_client_id is not None else ""
        out.append(
            ParsedTranscript(
                title=title,
                format="csv",
                turns=assemble_turns(
                    [(Role.CLIENT, "Client", row[i_client]), (Role.THERAPIST, speaker, row[i_ther])]
                ),
                category=options.category or _category(cols, row),
                client_key=f"{prefix}:{who or group or f'line {line}'}",
                metadata=metadata,
            )
        )
    return out


def _order_key(path: Path, line: int, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ImportFailed(path, f"line {line}: the order column must be a number, found {text[:20]!r}") from None


def _turn_table(
    path: Path,
    mapping: CsvMapping,
    rows: list[tuple[int, list[str]]],
    cols: dict[str, int],
    meta: dict[str, int],
    prefix: str,
    options: ImportOptions,
) -> list[ParsedTranscript]:
    i_session, i_text = cols["session"], cols["text"]
    i_role, i_speaker, i_order = cols.get("role"), cols.get("speaker"), cols.get("order")
    i_title, i_client = cols.get("title"), cols.get("client")
    speaker_roles = SpeakerRoles(options.speaker_map)
    sessions: dict[str, list[tuple[float, int, Role, str, str]]] = {}
    first_row: dict[str, list[str]] = {}
    session_meta: dict[str, dict[str, Any]] = {}
    unknown: dict[str, list[str]] = {}
    for n, (line, row) in enumerate(rows):
        session = row[i_session].strip()
        if not session:
            raise ImportFailed(path, f"line {line}: the session column {mapping.columns['session']!r} is empty")
        if session not in sessions:
            sessions[session] = []
            first_row[session] = row
            session_meta[session] = {}
            unknown[session] = []
        for key, value in _metadata(row, meta).items():
            session_meta[session].setdefault(key, value)
        speaker = row[i_speaker].strip() if i_speaker is not None else ""
        label = row[i_role].strip() if i_role is not None else speaker
        role = mapping.roles.get(label.lower())
        if role is None:
            role = {"therapist": Role.THERAPIST, "client": Role.CLIENT}.get(label.lower())
        if role is None:
            role = speaker_roles.known(label) if label else None
        if role is None:
            role = Role.OTHER
            if (label or "(empty)") not in unknown[session]:
                unknown[session].append(label or "(empty)")
        order = _order_key(path, line, row[i_order]) if i_order is not None else float(n)
        sessions[session].append((order, n, role, speaker or role.value.title(), row[i_text]))
    out: list[ParsedTranscript] = []
    for session, utterances in sessions.items():
        utterances.sort(key=lambda u: (u[0], u[1]))
        row = first_row[session]
        title = row[i_title].strip() if i_title is not None else ""
        who = row[i_client].strip() if i_client is not None else ""
        metadata = session_meta[session]
        metadata.setdefault("session", _value(session))
        out.append(
            ParsedTranscript(
                title=title or f"{prefix} {session}",
                format="csv",
                turns=assemble_turns((r, s, t) for _, _, r, s, t in utterances),
                category=options.category or _category(cols, row),
                client_key=f"{prefix}:{who or session}",
                metadata=metadata,
                unknown_labels=unknown[session],
            )
        )
    return out


IMPORTER = MappedCsvImporter()
