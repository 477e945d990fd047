"""The import pipeline: files and folders in, transcripts in the store out.

Each file is all-or-nothing: it is parsed completely in memory first (a file
that cannot be read is reported and nothing of it is written), then written.
Files are grouped into one outer transaction that commits every
``COMMIT_EVERY_S`` seconds, and only between files: with ``synchronous=FULL``
a commit per small file would spend most of an import waiting on fsync, and a
crash still loses only whole files, never part of one. An error while
writing rolls the open batch back and stops the import, so it cannot leave
part of a file behind either.

Files are deliberately not wrapped in a SAVEPOINT each: opening one makes
FTS5 flush its pending index data as a tiny segment, and the merging of
~13,000 of those made the import benchmark ~2.2x slower than a bare insert
(``tests/benchmarks/bench_import.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.bounded_read import read_bounded
from core.errors import ImportFailed, InputRefused
from core.ids import TranscriptId
from core.importers import MAX_FILE_BYTES, ImportOptions, parse_bytes
from core.models import ParsedTranscript, Role
from core.progress import TaskState, null_state
from core.store import Store
from core.store import transcripts as transcript_store

COMMIT_EVERY_S = 0.5


@dataclass(slots=True)
class FileResult:
    path: str
    status: str  # imported | already_imported | failed
    transcript_ids: list[TranscriptId] = field(default_factory=list)
    already: int = 0
    message: str = ""
    unknown_labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what decoding repaired (decoding.collect_notes)
    furniture_lines: int = 0  # page furniture lines taken out of the text (importers/furniture.py)

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.path}: {self.message}"
        if self.status == "already_imported":
            return f"{self.path}: already imported"
        extra = f" ({self.already} already imported)" if self.already else ""
        labels = (
            f"; unknown speaker labels: {', '.join(self.unknown_labels)}" if self.unknown_labels else ""
        )
        notes = "".join(f"; {note}" for note in self.notes)
        furniture = (
            f"; {self.furniture_lines} page furniture line{'s' if self.furniture_lines != 1 else ''} removed"
            if self.furniture_lines
            else ""
        )
        n = len(self.transcript_ids)
        return f"{self.path}: imported {n} transcript{'s' if n != 1 else ''}{extra}{labels}{furniture}{notes}"


@dataclass(slots=True)
class ImportReport:
    files: list[FileResult] = field(default_factory=list)
    cancelled: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why) left out of a walk

    def skipped_line(self) -> str:
        """ "3 skipped: 2 hidden, 1 symlinked folder", or "" when nothing was."""
        if not self.skipped:
            return ""
        why: dict[str, int] = {}
        for _, reason in self.skipped:
            why[reason] = why.get(reason, 0) + 1
        return f"{len(self.skipped)} skipped: " + ", ".join(
            reason if len(why) == 1 else f"{n} {reason}" for reason, n in why.items()
        )

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def imported_transcripts(self) -> int:
        return sum(len(f.transcript_ids) for f in self.files)


def expand_paths(
    paths: Iterable[str | os.PathLike[str]], skipped: list[tuple[str, str]] | None = None
) -> list[Path]:
    """Files as given, folders walked recursively (hidden entries skipped), in a stable order.

    What a walk leaves out goes into ``skipped`` as (path, why), so a folder of
    dot-files reports "2 skipped: hidden", not "0 imported, 0 failed".
    Symlinked folders are not followed (a link loop, or a link out of the folder).
    """
    out: list[Path] = []
    skip = skipped if skipped is not None else []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                kept = []
                for d in sorted(dirs):
                    if d.startswith("."):
                        skip.append((str(Path(root) / d), "hidden"))
                    elif os.path.islink(os.path.join(root, d)):
                        skip.append((str(Path(root) / d), "symlinked folder"))
                    else:
                        kept.append(d)
                dirs[:] = kept
                for f in sorted(files):
                    if f.startswith("."):
                        skip.append((str(Path(root) / f), "hidden"))
                    else:
                        out.append(Path(root) / f)
        else:
            out.append(path)
    return out


# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; one
# shared encoder gives the same bytes at half the cost (a million turns per import).
_TURN_JSON = json.JSONEncoder(ensure_ascii=False).encode

# Content hashes of this kind start with this; older workspaces hold bare hex
# (``legacy_content_hash``), which is still looked up while any is left.
HASH_PREFIX = "c2:"


_SEPARATED = re.compile(r"[^\w\x1e\x1f]*([\x1e\x1f])[^\w\x1e\x1f]*")
_NOT_WORDS = re.compile(r"[^\w\x1e\x1f]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WORD = re.compile(r"\w")
_SPACE_RUNS = re.compile(rb"  +")
# UTF-8 bytes → themselves if they can be part of a word (ASCII \w, the separators, any
# byte of a multi-byte character), else a space. Non-ASCII characters that are not word
# characters are made spaces before encoding, so every byte left over 0x7f is a word's.
_HASH_BYTES = bytes(
    c if (c >= 0x80 or chr(c).isalnum() or chr(c) in "_\x1e\x1f") else 0x20 for c in range(256)
)


def _hash_words(joined: str) -> bytes:
    """``joined``'s words, one space between words and none beside a separator, as UTF-8.

    The same bytes as ``_NOT_WORDS.sub(" ", _SEPARATED.sub(r"\\1", joined)).strip()``
    (``reference_hash_words``, which a test compares it with), at a quarter of the cost:
    a byte table and a few whole-string operations instead of a regex that expands a
    template per turn.
    """
    if not joined.isascii():
        for ch in set(_NON_ASCII.findall(joined)):
            if _WORD.match(ch) is None:
                joined = joined.replace(ch, " ")
    words = joined.encode("utf-8", "surrogatepass").translate(_HASH_BYTES)
    # Runs of spaces to one: cheaper than split() and join, which make an object per word,
    # and than repeated replace(b"  ", b" ") (a third of the hash's time).
    words = _SPACE_RUNS.sub(b" ", words)
    # No space beside a separator: each piece between two of them stripped (two
    # splits cost less than four replaces, most of which scan for nothing).
    for separator in (b"\x1e", b"\x1f"):
        words = separator.join([piece.strip(b" ") for piece in words.split(separator)])
    return words.strip(b"\x1e\x1f")


def reference_hash_words(joined: str) -> bytes:
    """What ``_hash_words`` must equal: the definition, kept for the test that holds it to it."""
    return _NOT_WORDS.sub(" ", _SEPARATED.sub(r"\1", joined)).strip().encode("utf-8", "surrogatepass")


def _hash_input(parsed: ParsedTranscript) -> str:
    """Role and words of every turn (and the label of a speaker of no known role)."""
    other = Role.OTHER
    # Role is a str enum: joining it joins its value.
    return "\x1e".join(
        [
            "\x1f".join((t.role, t.speaker, t.text) if t.role is other else (t.role, t.text))
            for t in parsed.turns
        ]
    )


def content_hash(parsed: ParsedTranscript) -> str:
    """Identity of a session: who spoke (therapist, client) and the words they said.

    Not its title (which falls back to the file name), container, encoding, speaker
    label style, line wrapping, punctuation spacing or page furniture, so the same
    session saved under another name, as UTF-16, as .docx or re-exported from a PDF
    is recognised as already imported. Speakers of no known role keep their label:
    two unknown speakers are not one. Cleaned text has no control characters, so
    the separators cannot occur in it.
    """
    # Words only: "stick-\nthin" rewrapped as "stick-thin", "Okay." as "Okay" are the same.
    return HASH_PREFIX + hashlib.sha256(_hash_words(_hash_input(parsed))).hexdigest()


def legacy_content_hash(parsed: ParsedTranscript) -> str:
    """The hash workspaces stored before ``HASH_PREFIX``: title, speakers and raw text."""
    h = hashlib.sha256()
    h.update(parsed.title.encode("utf-8", "surrogatepass"))
    for turn in parsed.turns:
        h.update(b"\x1e")
        h.update(_TURN_JSON([turn.speaker, turn.raw_text]).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def read_and_parse(
    path: Path, *, format: str | None, options: ImportOptions
) -> list[ParsedTranscript]:
    try:
        # Regular files only, never more than the limit: a FIFO, /dev/zero behind a
        # symlink or a growing file is one line, not a hang or a MemoryError.
        data = read_bounded(path, MAX_FILE_BYTES)
    except InputRefused as exc:
        raise ImportFailed(path, exc.reason) from None
    parsed = parse_bytes(path, data, format=format, options=options)
    if options.category is not None:
        for t in parsed:
            t.category = options.category
    return parsed


def _already_stored(store: Store, transcript: ParsedTranscript, digest: str, legacy: bool) -> bool:
    if transcript_store.transcript_id_for_hash(store, digest) is not None:
        return True
    return legacy and transcript_store.transcript_id_for_hash(store, legacy_content_hash(transcript)) is not None


def _store_file(
    store: Store, path: Path, parsed: list[ParsedTranscript], *, legacy: bool = True
) -> FileResult:
    """Write one parsed file; the caller's batch transaction makes it all-or-nothing.

    ``legacy``: the store may hold older hashes (``legacy_content_hash``), so look those up too."""
    result = FileResult(path=str(path), status="imported")
    result.furniture_lines = sum(t.furniture_lines for t in parsed)
    if parsed and parsed[0].metadata.get("decoding"):
        result.notes.append(str(parsed[0].metadata["decoding"]))
    seen: set[str] = set()
    for transcript in parsed:
        digest = content_hash(transcript)
        if digest in seen or _already_stored(store, transcript, digest, legacy):
            result.already += 1
            continue
        seen.add(digest)
        result.transcript_ids.append(
            transcript_store.insert_transcript(
                store, transcript, source_path=str(path), content_hash=digest
            )
        )
        for label in transcript.unknown_labels:
            if label not in result.unknown_labels:
                result.unknown_labels.append(label)
    if not result.transcript_ids:
        result.status = "already_imported"
    for tid in result.transcript_ids or [None]:
        transcript_store.log_import(
            store, str(path), result.status, transcript_id=tid, message=result.line()
        )
    return result


def import_paths(
    store: Store,
    paths: Iterable[str | os.PathLike[str]],
    *,
    format: str | None = None,
    options: ImportOptions | None = None,
    state: TaskState | None = None,
) -> ImportReport:
    options = options or ImportOptions()
    state = state or null_state()
    report = ImportReport()
    files = expand_paths(paths, report.skipped)
    with transcript_store.import_page_cache(store):
        _import_files(store, files, report, format=format, options=options, state=state)
    state.update(len(files), len(files), "")
    return report


def _import_files(
    store: Store,
    files: list[Path],
    report: ImportReport,
    *,
    format: str | None,
    options: ImportOptions,
    state: TaskState,
) -> None:
    conn = store.conn
    last_commit = time.monotonic()
    store.begin()  # waits its turn behind another writer
    try:
        legacy = transcript_store.has_hashes_without_prefix(store, HASH_PREFIX)
        # The full-text index is filled once per batch, not by a trigger per row.
        index_batch = transcript_store.defer_turn_index(store)
        for done, path in enumerate(files):
            if state.cancelled:
                report.cancelled = True
                break
            state.update(done, len(files), path.name)
            try:
                parsed = read_and_parse(path, format=format, options=options)
            except ImportFailed as exc:
                report.files.append(FileResult(path=str(path), status="failed", message=exc.reason))
                transcript_store.log_import(store, str(path), "failed", message=exc.reason)
            else:
                # Outside the try: an error while writing must reach the
                # rollback below, never be taken for a bad input file.
                report.files.append(_store_file(store, path, parsed, legacy=legacy))
            if time.monotonic() - last_commit > COMMIT_EVERY_S:
                index_batch()
                conn.execute("COMMIT")
                store.let_others_write()  # a second import or a decision takes its turn here
                store.begin()
                index_batch = transcript_store.defer_turn_index(store)
                last_commit = time.monotonic()
        index_batch()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
