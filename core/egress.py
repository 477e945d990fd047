"""The egress gate: the one way transcript text leaves the machine.

Whatever will be sent to a cloud service (the Vertex training files, the
generation prompts) is first gathered here into a ``Manifest``: exactly the
bytes that will go, rendered by the dataset renderer (``core.datasets``), so
excluded turns and redacted spans are already gone. The manifest says how
many examples and characters, shows a sample and the destination, and scans
the outgoing text for identifiers (names, emails, phone numbers, dates,
street addresses, long digit runs).

Only ``confirm`` turns a manifest into an ``Approval``, and only when the user
said yes (a prompt, a dialog, or ``--yes``). The modules that talk to Google
(``core.tuning.vertex``, ``core.generation.gemini``; an import-linter contract
keeps every other module from importing the SDKs) send nothing but an
approval's payloads, and write each upload and each generation run to the
append-only egress log (``record``) before the first byte goes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.datasets import builder, export
from core.datasets import items as ds_items
from core.datasets.rules import DatasetRules
from core.errors import AttuneError, ValidationError
from core.store import Store
from core.store import datasets as ds_store
from core.store import egress_log

SCAN_KINDS = ("name", "email", "phone", "date", "address", "digits")
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
# Order matters: a span claimed by an earlier kind is not counted again (a
# phone number is not also a digit run).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("date", re.compile(
        r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"
        rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b(?:,?\s+\d{{4}})?"
    )),
    ("phone", re.compile(r"(?<![\w])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")),
    ("address", re.compile(
        r"\b\d{1,5}\s+(?:[A-Z][\w'-]*\s+){1,3}"
        r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close)\b\.?"
    )),
    ("digits", re.compile(r"\d{6,}")),
)
SAMPLE_CHARS = 800


class EgressRefused(AttuneError):
    """Nothing was sent: the user did not confirm what would leave the machine."""


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the text goes: shown to the user and written to the log."""

    service: str  # "vertex" | "gemini-api"
    project: str = ""
    region: str = ""
    bucket: str = ""
    prefix: str = ""
    model: str = ""

    def describe(self) -> str:
        parts = [self.service]
        if self.project:
            parts.append(f"project {self.project}")
        if self.region:
            parts.append(f"region {self.region}")
        if self.bucket:
            parts.append(f"bucket gs://{self.bucket}/{self.prefix.strip('/')}".rstrip("/"))
        if self.model:
            parts.append(f"model {self.model}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Payload:
    """One thing that will be sent: a file to upload, or one generation request."""

    name: str  # a file name (vertex_train.jsonl) or an example id
    data: bytes  # exactly the bytes (a JSONL file; a request's JSON)
    examples: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    text: str
    where: str  # payload name and line


@dataclass(frozen=True)
class Manifest:
    kind: str  # "upload" | "generation"
    what: str  # e.g. "dataset 'sleep-v1'"
    destination: Destination
    payloads: tuple[Payload, ...]
    hits: tuple[Hit, ...]
    characters: int
    sample: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def examples(self) -> int:
        return sum(p.examples for p in self.payloads)

    @property
    def bytes(self) -> int:
        return sum(len(p.data) for p in self.payloads)

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for p in self.payloads:
            h.update(f"{p.name}\x00{p.sha256}\n".encode())
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        c = Counter(h.kind for h in self.hits)
        return {k: c.get(k, 0) for k in SCAN_KINDS}

    def describe(self, hits: int = 10) -> list[str]:
        """The confirmation text: what, how much, where, a sample, the identifier scan."""
        lines = [
            f"About to send {self.kind} of {self.what} OFF THIS MACHINE:",
            f"  destination: {self.destination.describe()}",
            f"  {self.examples} examples, {self.characters} characters of transcript text, "
            f"{self.bytes} bytes in {len(self.payloads)} "
            f"{'files' if self.kind == 'upload' else 'requests'}",
        ]
        if self.kind == "upload":
            lines += [f"    {p.name}: {p.examples} examples, {len(p.data)} bytes" for p in self.payloads]
        counts = self.counts()
        lines.append("  identifier scan: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
        for h in self.hits[:hits]:
            lines.append(f"    {h.kind}: {h.text!r} ({h.where})")
        if len(self.hits) > hits:
            lines.append(f"    … {len(self.hits) - hits} more (--show-hits lists them all)")
        lines.append("  sample:")
        lines += ["    " + line for line in self.sample.splitlines()]
        return lines


@dataclass(frozen=True)
class Approval:
    """A manifest the user confirmed; the gated modules send only its payloads."""

    manifest: Manifest
    confirmed_by: str  # "--yes" | "prompt" | "dialog"
    _token: object = field(repr=False, default=None)

    def __post_init__(self) -> None:
        if self._token is not _TOKEN:
            raise EgressRefused("an approval comes only from egress.confirm()")


_TOKEN = object()


# Identifier scan ##############################################################


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    words: set[str] = set()
    for name in names:
        name = " ".join(str(name).split())
        if len(name) >= 3:
            words.add(name)
        words.update(w for w in re.split(r"[\s,]+", name) if len(w) >= 3 and w[:1].isupper())
    if not words:
        return None
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")


def scan_text(text: str, where: str, names: re.Pattern[str] | None) -> list[Hit]:
    """Identifiers in ``text``; a span is counted once, by the first kind that claims it."""
    taken: list[tuple[int, int]] = []
    hits: list[Hit] = []
    patterns = ([("name", names)] if names is not None else []) + list(_PATTERNS)
    for kind, pattern in patterns:
        for m in pattern.finditer(text):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            taken.append((s, e))
            hits.append(Hit(kind, m.group(0), where))
    return hits


def _strings(obj: Any) -> Iterable[str]:
    """The texts inside a Vertex request or training line (``parts[].text``), not roles or keys."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "text" and isinstance(v, str):
                yield v
            else:
                yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _scan_payloads(payloads: Sequence[Payload], names: re.Pattern[str] | None) -> tuple[list[Hit], int]:
    hits: list[Hit] = []
    chars = 0
    for p in payloads:
        for n, line in enumerate(p.data.splitlines(), start=1):
            if not line.strip():
                continue
            for text in _strings(json.loads(line)):
                chars += len(text)
                hits += scan_text(text, f"{p.name}:{n}" if p.examples > 1 else p.name, names)
    return hits, chars


def _sample(payloads: Sequence[Payload]) -> str:
    for p in payloads:
        first = p.data.split(b"\n", 1)[0]
        if first.strip():
            texts = list(_strings(json.loads(first)))
            sample = "\n---\n".join(texts)
            return sample if len(sample) <= SAMPLE_CHARS else sample[:SAMPLE_CHARS] + " …"
    return "(nothing)"


def identifying_names(store: Store, transcript_ids: Iterable[int]) -> list[str]:
    """Client and therapist names the workspace knows for these transcripts.

    Client names come from import; therapist and client names may also sit in
    the source metadata (any key naming a therapist, client, counselor or name).
    """
    wanted = set(transcript_ids)
    names: list[str] = []
    for info in ds_store.transcript_info(store, wanted).values():
        names += info.client_names
    for tid, meta in ds_store.transcript_metadata(store):
        if tid not in wanted:
            continue
        for key, value in meta.items():
            if isinstance(value, str) and re.search(r"name|therapist|client|counsel", key, re.I):
                names.append(value)
    return names


def _manifest(kind: str, what: str, destination: Destination, payloads: list[Payload],
              names: Iterable[str], extra: Mapping[str, Any] | None = None) -> Manifest:
    hits, chars = _scan_payloads(payloads, _names_pattern(names))
    return Manifest(kind, what, destination, tuple(payloads), tuple(hits), chars, _sample(payloads),
                    dict(extra or {}))


# What a dataset sends #########################################################

UPLOAD_FILES = ("vertex_train.jsonl", "vertex_validation.jsonl")


def upload_manifest(store: Store, dataset: str, destination: Destination) -> Manifest:
    """The dataset's Vertex training files, rendered now exactly as ``attune dataset export`` writes them.

    Refuses (like the export) when exclusions, redactions or edits since the
    build changed what the files would hold: the user builds a new dataset.
    """
    record = ds_store.get_dataset(store, dataset)
    rows = list(builder.stored_examples(store, record))
    sinks = {name: export._Sink(_Buffer()) for name in export.EXAMPLE_FILES}  # noqa: SLF001 - same renderer as the export
    form = DatasetRules.from_dict(record.rules).vertex_form
    export.render(rows, record.system_instruction, sinks, vertex_form=form)
    rendered = export._rendered(sinks)  # noqa: SLF001
    if rendered.content_hash != record.content_hash:
        raise ValidationError(
            f"dataset {dataset!r}: its examples no longer match its content hash (turns were excluded, "
            "redacted or edited since it was built); nothing was sent — build a new dataset"
        )
    per_split = Counter(r.split for r in rows)
    payloads = [
        Payload(name, sinks[name].file.getvalue(), per_split[name.removeprefix("vertex_").removesuffix(".jsonl")])
        for name in UPLOAD_FILES
    ]
    payloads = [p for p in payloads if p.examples]
    if not payloads or payloads[0].name != "vertex_train.jsonl":
        raise ValidationError(f"dataset {dataset!r} has no training examples; nothing to upload")
    names = identifying_names(store, {r.transcript_id for r in rows if r.split != "test"})
    return _manifest("upload", f"dataset {dataset!r}", destination, payloads, names,
                     {"dataset": dataset, "dataset_hash": record.content_hash,
                      "splits": {s: per_split[s] for s in ("train", "validation")}})


class _Buffer:
    """A write-only in-memory file for the export's sinks."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(data)
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def generation_manifest(store: Store, dataset: str, destination: Destination,
                        skip: Iterable[str] = ()) -> Manifest:
    """One request per test item of the dataset not in ``skip``: the prompt evaluation would score.

    The prompts are ``items.prompts_for_test_items`` (the training renderer
    minus the target), so exclusions and redactions hold here too.
    """
    record = ds_store.get_dataset(store, dataset)
    items = ds_items.eval_items(store, record.id)
    skip = set(skip)
    payloads: list[Payload] = []
    tids: set[int] = set()
    names: list[str] = []
    for item in items:
        if item.example_id in skip:
            continue
        prompt = ds_items.item_prompt(record, item, "vertex")
        payloads.append(Payload(item.example_id, json.dumps(prompt, ensure_ascii=False, sort_keys=True).encode(), 1))
        tids.add(item.transcript_id)
        names += item.client_names
    names += identifying_names(store, tids)
    return _manifest("generation", f"dataset {dataset!r} test items", destination, payloads, names,
                     {"dataset": dataset, "test_items": len(items), "already_done": len(items) - len(payloads)})


# Confirmation and the log #####################################################


def confirm(manifest: Manifest, *, yes: bool = False, ask: Callable[[Manifest], bool] | None = None,
            via: str = "prompt") -> Approval:
    """The user's go-ahead, or ``EgressRefused``: ``yes`` (``--yes``) or ``ask`` returning True."""
    if yes:
        return Approval(manifest, "--yes", _TOKEN)
    if ask is None:
        raise EgressRefused(
            f"{manifest.what}: not sent — sending transcript text off this machine needs confirmation "
            "(answer the prompt, or pass --yes)"
        )
    if not ask(manifest):
        raise EgressRefused(f"{manifest.what}: not sent — you declined")
    return Approval(manifest, via, _TOKEN)


def record(store: Store, approval: Approval, *, destination: str, payloads: Sequence[Payload] | None = None,
           detail: Mapping[str, Any] | None = None, kind: str | None = None) -> int:
    """Log an upload or a generation run before it is sent; returns the log row id."""
    m = approval.manifest
    sent = list(payloads if payloads is not None else m.payloads)
    h = hashlib.sha256()
    for p in sent:
        h.update(f"{p.name}\x00{p.sha256}\n".encode())
    return egress_log.append(
        store,
        kind=kind or m.kind,
        destination=destination,
        what=m.what + (f": {sent[0].name}" if m.kind == "upload" and len(sent) == 1 else ""),
        content_hash=h.hexdigest(),
        size=sum(len(p.data) for p in sent),
        examples=sum(p.examples for p in sent),
        detail={
            "service": m.destination.service,
            "project": m.destination.project,
            "region": m.destination.region,
            "model": m.destination.model,
            "confirmed_by": approval.confirmed_by,
            "identifier_counts": m.counts(),
            **(detail or {}),
        },
    )


def log_entries(store: Store, limit: int | None = None) -> list[egress_log.EgressEntry]:
    """The egress log, newest first (``attune egress-log``, the GUI)."""
    return egress_log.entries(store, limit)
