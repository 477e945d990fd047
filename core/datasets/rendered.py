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
test transcripts. The build records it; the export recomputes it (one query).
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
from itertools import islice
from collections.abc import Iterable, Mapping, Sequence
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
_FORMAT = "attune-dataset-inputs-1"
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
    turns: Iterable[tuple[int, str | None, int | None, str | None]],
    withheld: Withheld,
    test_names: Mapping[TranscriptId, Sequence[str]],
) -> str:
    """sha256 over what rendering reads: the turns (``store.datasets.source_turns`` rows, by id),
    which of them are excluded, their redacted spans, and the test transcripts' client names.

    Column-wise, a block of rows at a time (a per-row loop cost more than the query).
    """
    h = hashlib.sha256(_FORMAT.encode())
    seen: set[int] = set()
    rows = iter(turns)
    while block := list(islice(rows, 20_000)):
        ids, roles, words, texts = zip(*block)
        texts = tuple(t if t is not None else "" for t in texts)
        seen.update(ids)
        # ids, roles (None: the turn is gone), word counts and text lengths, then the texts
        # themselves: the lengths keep any character inside a text from posing as a boundary
        h.update(json.dumps([ids, roles, words, [len(t) for t in texts]]).encode())
        h.update("".join(texts).encode("utf-8", "surrogatepass"))
    excluded = sorted(t for t in withheld.excluded if t in seen)
    spans = sorted([t, sorted(s)] for t, s in withheld.spans.items() if t in seen and s)
    names = [[t, list(test_names[t])] for t in sorted(test_names)]
    h.update(json.dumps([excluded, spans, names], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def current_fingerprint(store: Store, record: DatasetRecord, withheld: Withheld) -> str:
    """The fingerprint of a stored dataset's inputs as the store holds them now."""
    info = ds_store.transcript_info(store, ds_store.test_transcript_ids(store, record.id))
    return fingerprint(ds_store.source_turns(store, dataset_id=record.id), withheld,
                       {t: i.client_names for t, i in info.items()})


def build_fingerprint(
    store: Store, turn_ids: Iterable[TurnId], withheld: Withheld, test_names: Mapping[TranscriptId, Sequence[str]]
) -> str:
    """The same fingerprint at build time, before the dataset's rows are stored.

    ``withheld`` is what the build rendered with: a decision made meanwhile
    leaves the kept files stale (the export then renders), never wrong.
    """
    return fingerprint(ds_store.source_turns(store, turn_ids=turn_ids), withheld, test_names)


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


def usable(store: Store, record: DatasetRecord, withheld: Withheld) -> tuple[Path, Rendered] | None:
    """The kept folder and what it must hold, when today's store would render the same files."""
    folder = folder_of(store, record)
    expected = kept_rendered(record)
    if folder is None or expected is None or not folder.is_dir():
        return None
    if current_fingerprint(store, record, withheld) != record.counts[COUNTS_KEY].get("inputs_sha256"):
        return None
    return folder, expected


# Keeping the files while the build renders ###################################


class _Guarded:
    """A kept file whose write errors stop the keeping, never the build."""

    def __init__(self, keeper: KeptFiles, f: Any) -> None:
        self.keeper, self.f = keeper, f

    def write(self, data: bytes) -> None:
        if self.keeper.failed:
            return
        try:
            self.f.write(data)
        except OSError:
            self.keeper.failed = True


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
