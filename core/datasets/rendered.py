"""The example files a build keeps, so that an export copies them instead of rendering again.

A build renders every example file once: the same pass that hashes them for
the dataset's content hash writes them into the workspace
(``<workspace>/datasets/<name>-<8 hex>/``, published whole by
``core.files.FolderPublisher``; the folder's name is in the dataset's counts).
An export copies those bytes when rendering today would give the same ones,
and renders as before otherwise.

Whether it would is decided by a fingerprint of everything rendering reads
from the store beyond the dataset's own rows: the text, role and word count of
every turn its examples draw on (targets and context turns), whether any rater
has excluded each of them, their redacted spans, and the client names of its
test transcripts. The build computes it from the turns as it read and rendered
them (a turn read twice with different values keeps nothing); the export
recomputes it from the store (the dataset's rows, then one range query).
An exclusion, redaction or text change touching the dataset changes it, and
the export then renders under today's decisions exactly as before, so the
content-hash check still refuses a stale dataset. Every copied file is hashed
as it is written and must equal the hash stored at build time: a damaged or
replaced copy is rendered again, never exported.

Deleting a dataset deletes its folder (``prune``); a build keeps nothing when
the workspace folder cannot be written, and the export then renders.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import shutil
import sqlite3
import struct
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from core.datasets.export import EXAMPLE_FILES, Rendered, combined_hash
from core.datasets.withheld import Withheld
from core.errors import AttuneError
from core.files import FolderPublisher, clean_leftovers
from core.ids import TranscriptId, TurnId
from core.models import DatasetRecord
from core.store import Store
from core.store import datasets as ds_store

DIRNAME = "datasets"
COUNTS_KEY = "rendered"  # in the dataset's counts: {"folder": ..., "inputs_sha256": ...}
_FORMAT = "attune-dataset-inputs-2"  # -1: JSON columns (kept files of those builds are rendered again)
_BLOCK = 20_000  # texts encoded and hashed at a time
_FOLDER = re.compile(r"[A-Za-z0-9_-]{1,40}-[0-9a-f]{8}\Z")
_TAG = ".attune-"  # core.files' temporaries: .<target>.attune-<kind>-<pid>-<random>


def root(store: Store) -> Path:
    return store.path.parent / DIRNAME


def new_folder_name(dataset_name: str) -> str:
    """A folder name the user can recognise, never a path trick (``..``, slashes, odd characters)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", dataset_name).strip("-")[:40] or "dataset"
    return f"{slug}-{secrets.token_hex(4)}"


def folder_of(store: Store, record: DatasetRecord) -> Path | None:
    info = record.counts.get(COUNTS_KEY)
    name = info.get("folder") if isinstance(info, dict) else None
    if not isinstance(name, str) or not _FOLDER.match(name):
        return None
    return root(store) / name


# The fingerprint ##############################################################


def fingerprint(
    columns: tuple[Sequence[int], Sequence[str], Sequence[int], Sequence[str]],
    withheld: Withheld,
    test_names: Mapping[TranscriptId, Sequence[str]],
) -> str:
    """sha256 over what rendering reads: the turns (ids, roles, word counts, texts, as columns
    in id order), which of them are excluded, their redacted spans, and the test transcripts'
    client names.

    The build calls it with the turns as it read them; ``current_fingerprint``
    gets the same text from SQLite directly (``store.datasets.turn_text_columns``).
    """
    ids, roles, words, texts = columns
    # the texts a block at a time: one string of them all could take four bytes a character
    text_blocks = ("".join(texts[at:at + _BLOCK]) for at in range(0, len(texts), _BLOCK))
    parts = ([",".join(map(str, ids))], [",".join(roles)], [",".join(map(str, words))],
             [",".join(map(str, map(len, texts)))], text_blocks)
    return _digest(parts, ids, withheld, test_names)


def _digest(
    parts: Iterable[Iterable[str]], ids: Iterable[int], withheld: Withheld,
    test_names: Mapping[TranscriptId, Sequence[str]],
) -> str:
    # Each part (given in pieces) goes in followed by its length in bytes; the
    # texts' own lengths are a part, so no text can pose as a boundary.
    h = hashlib.sha256(_FORMAT.encode())
    for part in parts:
        size = 0
        for piece in part:
            data = piece.encode("utf-8", "surrogatepass")
            h.update(data)
            size += len(data)
        h.update(struct.pack("<q", size))
    seen = set(ids)
    excluded = sorted(t for t in withheld.excluded if t in seen)
    spans = sorted([t, sorted(s)] for t, s in withheld.spans.items() if t in seen and s)
    names = [[t, list(test_names[t])] for t in sorted(test_names)]
    h.update(json.dumps([excluded, spans, names], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def current_fingerprint(store: Store, record: DatasetRecord, withheld: Withheld) -> str:
    """The fingerprint of a stored dataset's inputs as the store holds them now.

    At build time the builder computes it from the turns as it read and
    rendered them (not read again: the store may have moved on meanwhile),
    with the exclusions and redactions it rendered with; a turn read twice
    with different values keeps nothing. A decision or an edit made after
    those reads leaves the kept files stale (the export renders), never wrong.
    Here SQLite joins the columns into text itself (one row back instead of a
    row per turn: half the time); the text is the same as ``fingerprint``'s
    for the same turns, and a turn that is gone, or any difference, changes it.
    """
    info = ds_store.transcript_info(store, ds_store.test_transcript_ids(store, record.id))
    ids = ds_store.example_turn_ids(store, record.id)
    parts = [[part] for part in ds_store.turn_text_columns(store, ids)]
    return _digest(parts, ids, withheld, {t: i.client_names for t, i in info.items()})


def kept_rendered(record: DatasetRecord) -> Rendered | None:
    """The files' hashes and sizes as the build stored them, when they add up to its content hash."""
    c = record.counts
    try:
        files = {name: str(c["files"][name]) for name in EXAMPLE_FILES}
        sizes = {name: int(c["sizes"][name]) for name in EXAMPLE_FILES}
        training = str(c["training_hash"])
    except (KeyError, TypeError, ValueError):
        return None
    if combined_hash(files, EXAMPLE_FILES) != record.content_hash:
        return None
    return Rendered(files, sizes, record.content_hash, training)


def usable(
    store: Store, record: DatasetRecord, withheld: Callable[[], Withheld]
) -> tuple[Path, Rendered] | None:
    """The kept folder and what it must hold, when today's store would render the same files.

    ``withheld`` loads today's exclusions and redactions (not needed when the
    store is known untouched since the build, see ``untouched_since_build``).
    """
    folder = folder_of(store, record)
    expected = kept_rendered(record)
    if folder is None or expected is None or not folder.is_dir():
        return None
    stored = record.counts[COUNTS_KEY].get("inputs_sha256")
    if untouched_since_build(store, record, stored):
        return folder, expected
    try:
        current = current_fingerprint(store, record, withheld())
    except (ValueError, sqlite3.DataError):
        # a context list that is not JSON (rendering names the problem), or more
        # text than one SQLite string holds (1 GB): render
        return None
    if current != stored:
        return None
    return folder, expected


# Builds this process made, on stores nothing has changed since ###############
#
# Build then export in one session (``attune dataset build --out``, the
# Dataset page's Export after Build) need not read every turn again to learn
# that nothing changed: SQLite says so. ``PRAGMA data_version`` changes when
# any other connection (another process included) commits, and the
# connection's ``total_changes`` counts every row it inserted, updated or
# deleted itself. A build remembers both right after its own commit, when
# neither moved from before its first read to that commit but for the build's
# own rows; while both are still the same, the store holds exactly what the
# build read, so its fingerprint is current. Anything else (a decision, an
# edit, another process, another Store) computes the fingerprint as before.
# The kept files' hashes are checked as they are copied either way.

_UNTOUCHED: weakref.WeakKeyDictionary[Store, dict[int, tuple[tuple[int, int], str]]] = (
    weakref.WeakKeyDictionary())


def store_state(store: Store) -> tuple[int, int]:
    """(``PRAGMA data_version``, this connection's ``total_changes``): what moves on any change."""
    return store.conn.execute("PRAGMA data_version").fetchone()[0], store.conn.total_changes


def remember_build(
    store: Store, dataset_id: int, inputs_sha256: str, at_start: tuple[int, int], before_saving: tuple[int, int]
) -> None:
    """After a build's commit: remember it when nothing but the build changed the store since ``at_start``."""
    after = store_state(store)
    if before_saving == at_start and after[0] == at_start[0]:
        _UNTOUCHED.setdefault(store, {})[dataset_id] = (after, inputs_sha256)


def untouched_since_build(store: Store, record: DatasetRecord, inputs_sha256: object) -> bool:
    known = _UNTOUCHED.get(store, {}).get(record.id)
    return known is not None and known[1] == inputs_sha256 and known[0] == store_state(store)


# Keeping the files while the build renders ###################################


class _Guarded:
    """A kept file whose write errors stop the keeping, never the build.

    ``hash`` covers every byte given to ``write``, kept or not (the build's
    content hash is read from it): core.files' file hashes what it is given
    (its ``size`` counts it, even when the write then fails), and once the
    keeping has stopped the bytes are hashed here.
    """

    def __init__(self, keeper: KeptFiles, f: Any) -> None:
        self.keeper, self.f = keeper, f
        self.hash = f.hash

    def write(self, data: bytes) -> None:
        if not self.keeper.failed:
            before = self.f.size
            try:
                self.f.write(data)
                return
            except OSError:
                self.keeper.failed = True
            if self.f.size != before:
                return  # hashed before the write failed
        self.hash.update(data)


class KeptFiles:
    """The folder a build writes its rendered files into; published after the dataset is stored."""

    def __init__(self, store: Store, dataset_name: str) -> None:
        self.name = new_folder_name(dataset_name)
        self.target = root(store) / self.name
        self.failed = False
        self._pub: FolderPublisher | None = None
        try:
            self._pub = FolderPublisher(self.target, owned=EXAMPLE_FILES)
        except (AttuneError, OSError):
            self.failed = True

    def open(self, name: str) -> BinaryIO | None:
        if self._pub is None or self.failed:
            return None
        try:
            return _Guarded(self, self._pub.open(name))  # type: ignore[return-value]
        except OSError:
            self.failed = True
            return None

    def counts_entry(self, inputs_sha256: str) -> dict[str, str] | None:
        return None if self.failed else {"folder": self.name, "inputs_sha256": inputs_sha256}

    def commit(self, content_hash: str) -> bool:
        if self._pub is None or self.failed:
            self.discard()
            return False
        try:
            self._pub.commit({"kind": "dataset-rendered", "content_hash": content_hash})
        except (AttuneError, OSError):
            self.discard()
            return False
        self._pub = None
        return True

    def discard(self) -> None:
        if self._pub is not None:
            self._pub.discard()
            self._pub = None
            with contextlib.suppress(OSError):
                self.target.rmdir()  # the publisher made it empty at once; a kept folder is never empty

    def __enter__(self) -> KeptFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()  # a no-op after commit


def prune(store: Store) -> list[Path]:
    """Remove kept folders no stored dataset names (deleted datasets, interrupted builds)."""
    base = root(store)
    if not base.is_dir():
        return []
    wanted = {p.name for r in ds_store.list_datasets(store) if (p := folder_of(store, r)) is not None}
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if name.startswith(".") and _TAG in name:
            # a temporary of core.files: removed once the run that made it is gone
            removed += clean_leftovers(base / name[1:].split(_TAG, 1)[0])
        elif _FOLDER.match(name) and name not in wanted and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
