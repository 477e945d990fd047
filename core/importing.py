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
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ImportFailed
from core.ids import TranscriptId
from core.importers import MAX_FILE_BYTES, ImportOptions, parse_bytes
from core.models import ParsedTranscript
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

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.path}: {self.message}"
        if self.status == "already_imported":
            return f"{self.path}: already imported"
        extra = f" ({self.already} already imported)" if self.already else ""
        labels = (
            f"; unknown speaker labels: {', '.join(self.unknown_labels)}" if self.unknown_labels else ""
        )
        n = len(self.transcript_ids)
        return f"{self.path}: imported {n} transcript{'s' if n != 1 else ''}{extra}{labels}"


@dataclass(slots=True)
class ImportReport:
    files: list[FileResult] = field(default_factory=list)
    cancelled: bool = False

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def imported_transcripts(self) -> int:
        return sum(len(f.transcript_ids) for f in self.files)


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, folders walked recursively (hidden entries skipped), in a stable order."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
        else:
            out.append(path)
    return out


# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; one
# shared encoder gives the same bytes at half the cost (a million turns per import).
_TURN_JSON = json.JSONEncoder(ensure_ascii=False).encode


def content_hash(parsed: ParsedTranscript) -> str:
    """Identity of a session: its speakers and raw words, not its container or encoding."""
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
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFailed(path, f"cannot be read ({exc.strerror or exc})") from exc
    if size > MAX_FILE_BYTES:
        raise ImportFailed(path, f"the file is over {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailed(path, f"cannot be read ({exc.strerror or exc})") from exc
    parsed = parse_bytes(path, data, format=format, options=options)
    if options.category is not None:
        for t in parsed:
            t.category = options.category
    return parsed


def _store_file(store: Store, path: Path, parsed: list[ParsedTranscript]) -> FileResult:
    """Write one parsed file; the caller's batch transaction makes it all-or-nothing."""
    result = FileResult(path=str(path), status="imported")
    seen: set[str] = set()
    for transcript in parsed:
        digest = content_hash(transcript)
        if digest in seen or transcript_store.transcript_id_for_hash(store, digest) is not None:
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
    files = expand_paths(paths)
    report = ImportReport()
    conn = store.conn
    last_commit = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    try:
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
                report.files.append(_store_file(store, path, parsed))
            if time.monotonic() - last_commit > COMMIT_EVERY_S:
                conn.execute("COMMIT")
                conn.execute("BEGIN IMMEDIATE")
                last_commit = time.monotonic()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    state.update(len(files), len(files), "")
    return report
