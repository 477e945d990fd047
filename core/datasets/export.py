"""The example files: rendered once per dataset, and the export folder, written atomically.

Rendering is a pure function of the examples and the system instruction. The
build renders once (``hash_examples``): it hashes every file for the content
hash and keeps the bytes in the workspace (``rendered``). The export copies
them (``copy_folder``, each file's hash checked as it is written) while they
are current, and renders from the store (``write_folder``) otherwise; both
give the same bytes. Every file goes into a private staging folder beside the
target, is fsynced, and only when every file is complete (and the content
hash matches the one stored at build time) is the staging folder swapped in
with one rename (``core.files``): a crash or Cancel leaves the previous folder whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from core.datasets import formats
from core.datasets.targets import Message
from core.errors import AttuneError, ValidationError
from core.files import MARKER, FolderPublisher
from core.ids import TranscriptId, TurnId
from core.progress import TaskState, null_state

class ExportFailed(AttuneError):
    """The export folder could not be written; it was left as it was."""


class KeptFilesUnusable(Exception):
    """The files a build kept are missing or differ from its hashes: render instead (internal)."""


# The example files, in the order the content hash covers them.
EXAMPLE_FILES = (
    "vertex_train.jsonl",
    "vertex_validation.jsonl",
    "openai_train.jsonl",
    "openai_validation.jsonl",
    "hf_train.jsonl",
    "hf_validation.jsonl",
    "hf_test.jsonl",
    "test.jsonl",
    "manifest.jsonl",
)
TRAINING_FILES = EXAMPLE_FILES[:7]  # no example ids inside: equal across rebuilds in one store
CARD_FILE = "DATASET.md"
# COMPLETE.json comes last: its presence (and hashes) mark the folder whole.
ALL_FILES = (*EXAMPLE_FILES, CARD_FILE, MARKER)


class Example(NamedTuple):
    example_id: str
    split: str
    turn_id: TurnId
    transcript_id: TranscriptId
    category: str
    target_words: int
    target: str
    context: tuple[Message, ...]
    client_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rendered:
    files: dict[str, str]  # file name → sha256 hex
    sizes: dict[str, int]
    content_hash: str
    training_hash: str


def combined_hash(files: dict[str, str], names: Iterable[str]) -> str:
    h = hashlib.sha256()
    for name in names:
        h.update(f"{name}\x00{files[name]}\n".encode())
    return h.hexdigest()


class _Sink:
    """Hashes what is written and, when given a file, writes it too.

    ``render`` appends lines to ``pending`` (no call per line) and flushes
    every few hundred examples: one join, one hash update and one write per
    block instead of per line.

    A file that keeps a running sha256 of exactly what it is given, as its
    ``hash`` (core.files' publisher files; ``rendered``'s kept files, even
    after a write error), is hashed once, by the file: the bytes are not
    hashed twice.
    """

    def __init__(self, file: BinaryIO | None = None) -> None:
        own = getattr(file, "hash", None)
        self.hash = own if own is not None else hashlib.sha256()
        self._hash_here = own is None
        self.size = 0
        self.file = file
        self.pending: list[bytes] = []

    def flush(self) -> None:
        if not self.pending:
            return
        block = b"".join(self.pending)
        self.pending.clear()
        if self._hash_here:
            self.hash.update(block)
        self.size += len(block)
        if self.file is not None:
            self.file.write(block)


def render(
    examples: Iterable[Example],
    system: str,
    sinks: dict[str, _Sink],
    state: TaskState | None = None,
    total: int = 0,
    vertex_form: str = formats.DEFAULT_VERTEX_FORM,
) -> None:
    """Write every example file's lines to its sink; examples come in file order."""
    state = state or null_state()
    w = {name: sinks[name].pending.append for name in EXAMPLE_FILES}
    cache = formats.encoder_cache()
    example_lines, manifest_line = formats.example_lines, formats.manifest_line
    for n, ex in enumerate(examples):
        if n % 256 == 0:  # every test below divides by 256
            for sink in sinks.values():
                sink.flush()
            if n % 2048 == 0:
                state.check_cancelled()
                state.update(n, total, "writing examples")
            if n % 16_384 == 0:
                cache.clear()  # bounded memory; contexts overlap only between neighbours
        w["manifest.jsonl"](
            manifest_line(
                example_id=ex.example_id,
                split=ex.split,
                transcript_id=ex.transcript_id,
                turn_id=ex.turn_id,
                category=ex.category,
                target_words=ex.target_words,
            )
        )
        vertex, openai, hf = example_lines(system, ex.context, ex.target, cache, vertex_form)
        if ex.split == "test":
            w["hf_test.jsonl"](hf)
            w["test.jsonl"](
                formats.dumps_line(
                    formats.held_out_item(
                        example_id=ex.example_id,
                        category=ex.category,
                        client_names=ex.client_names,
                        system=system,
                        context=ex.context,
                        reference=ex.target,
                        transcript_id=ex.transcript_id,
                        turn_id=ex.turn_id,
                    )
                )
            )
            continue
        split = ex.split
        w[f"vertex_{split}.jsonl"](vertex)
        w[f"openai_{split}.jsonl"](openai)
        w[f"hf_{split}.jsonl"](hf)
    for sink in sinks.values():
        sink.flush()


def hash_examples(examples: Iterable[Example], system: str, state: TaskState | None = None, total: int = 0,
                  vertex_form: str = formats.DEFAULT_VERTEX_FORM,
                  keep: Callable[[str], BinaryIO | None] | None = None) -> Rendered:
    """Hash every example file; ``keep(name)`` may give a file to write each one into as well."""
    sinks = {name: _Sink(keep(name) if keep is not None else None) for name in EXAMPLE_FILES}
    render(examples, system, sinks, state, total, vertex_form)
    return _rendered(sinks)


def _rendered(sinks: dict[str, _Sink]) -> Rendered:
    files = {name: sinks[name].hash.hexdigest() for name in EXAMPLE_FILES}
    return Rendered(
        files=files,
        sizes={name: sinks[name].size for name in EXAMPLE_FILES},
        content_hash=combined_hash(files, EXAMPLE_FILES),
        training_hash=combined_hash(files, TRAINING_FILES),
    )


def write_folder(
    out_dir: Path,
    examples: Iterable[Example],
    system: str,
    card: Callable[[Rendered], bytes],
    *,
    expected_hash: str,
    state: TaskState | None = None,
    total: int = 0,
    vertex_form: str = formats.DEFAULT_VERTEX_FORM,
) -> Rendered:
    """Render into a staging folder, check the hash, then swap it in for ``out_dir`` whole.

    ``card`` renders DATASET.md once the example files' hashes are known.
    Raises ``ValidationError`` (and leaves ``out_dir`` untouched) when the
    rendered content no longer matches ``expected_hash``. Publishing
    (private modes, fsync, the completion marker, one rename) is
    ``core.files.FolderPublisher``'s.
    """
    out_dir = Path(out_dir)
    with FolderPublisher(out_dir, owned=ALL_FILES) as folder:
        try:
            sinks = {name: _Sink(folder.open(name)) for name in EXAMPLE_FILES}
            render(examples, system, sinks, state, total, vertex_form)
            rendered = _rendered(sinks)
            if rendered.content_hash != expected_hash:
                raise ValidationError(
                    f"{out_dir}: the examples no longer match the dataset's content hash (turn texts or "
                    "transcripts changed since it was built); nothing was written — build a new dataset"
                )
            folder.write(CARD_FILE, card(rendered))
        except OSError as exc:
            raise ExportFailed(f"{out_dir}: cannot write the export ({exc.strerror or exc})") from exc
        folder.commit(_completion(rendered))
        return rendered


def _completion(rendered: Rendered) -> dict[str, str]:
    """What an export's COMPLETE.json says, whether rendered or copied from the build."""
    return {"kind": "dataset-export", "content_hash": rendered.content_hash,
            "manifest_jsonl_sha256": rendered.files["manifest.jsonl"]}


def _blocks(path: Path, buf: bytearray) -> Iterable[memoryview]:
    """``path`` in blocks of ``buf``'s size; a read error means the kept copy is unusable."""
    view = memoryview(buf)
    try:
        with open(path, "rb") as f:
            while n := f.readinto(buf):
                yield view[:n]
    except OSError as exc:
        raise KeptFilesUnusable(f"{path}: {exc}") from exc


def copy_folder(
    out_dir: Path,
    source: Path,
    expected: Rendered,
    card: Callable[[Rendered], bytes],
    *,
    state: TaskState | None = None,
    total: int = 0,
) -> Rendered:
    """Publish ``out_dir`` from the example files a build kept in ``source`` (no rendering).

    Each file is hashed as it is written and must match ``expected`` (the
    hashes stored at build time), else ``KeptFilesUnusable`` is raised and
    ``out_dir`` is left as it was; the folder is published exactly as
    ``write_folder`` publishes it.
    """
    state = state or null_state()
    out_dir = Path(out_dir)
    grand = sum(expected.sizes.values()) or 1
    done = 0
    buf = bytearray(1024 * 1024)
    with FolderPublisher(out_dir, owned=ALL_FILES) as folder:
        try:
            for name in EXAMPLE_FILES:
                out = folder.open(name)
                for block in _blocks(Path(source) / name, buf):
                    state.check_cancelled()
                    out.write(block)
                    done += len(block)
                    state.update(total * done // grand, total, "writing examples")
                if out.hash.hexdigest() != expected.files[name] or out.size != expected.sizes[name]:
                    raise KeptFilesUnusable(f"{source / name}: differs from the dataset's hash")
            folder.write(CARD_FILE, card(expected))
        except OSError as exc:
            raise ExportFailed(f"{out_dir}: cannot write the export ({exc.strerror or exc})") from exc
        folder.commit(_completion(expected))
        return expected
