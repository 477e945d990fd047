"""Hypothesis throws arbitrary and near-valid input at every importer.

The contract: ``ImportFailed`` with one line naming the file, or valid
transcripts; never another exception; and through ``import_paths`` a failed
file leaves the store exactly as it was.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from pathlib import Path

import pytest
from docx import Document
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import ImportFailed
from core.importers import FORMATS, ImportOptions, parse_bytes
from core.importing import import_paths
from core.models import Category, ParsedTranscript, Role
from core.resources import demo_transcripts
from core.store import open_store
from core.store import transcripts as transcript_store

FORMAT_CHOICES = [None, *FORMATS]  # None = sniff
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\ud800-\udfff\x00-\x08\x0b-\x1f\x7f]")


def check_result(path: Path, data: bytes, format: str | None) -> list[ParsedTranscript] | None:
    """Run one parse and assert the contract; returns the transcripts, or None on ImportFailed."""
    try:
        transcripts = parse_bytes(path, data, format=format, options=ImportOptions())
    except ImportFailed as exc:
        assert exc.path == str(path)
        assert exc.reason and "\n" not in exc.reason and "\r" not in exc.reason
        # parse_bytes turns an importer's unexpected exception into this generic line; the
        # importers must say what is wrong themselves, so seeing it means an importer bug.
        assert "could not be read as" not in exc.reason, exc.reason
        return None
    assert transcripts and all(t.turns for t in transcripts)
    for t in transcripts:
        assert t.format in FORMATS
        assert isinstance(t.title, str) and isinstance(t.category, Category)
        json.dumps(t.metadata)  # storable
        for turn in t.turns:
            assert isinstance(turn.role, Role)
            assert turn.text and turn.text == turn.text.strip()
            assert not _INVISIBLE.search(turn.text)
            # SQLite and the content hash need well-formed text
            turn.text.encode("utf-8")
            turn.raw_text.encode("utf-8")
            turn.speaker.encode("utf-8")
    return transcripts


# Near-valid seeds, one per format #############################################


def _docx_seed() -> bytes:
    document = Document()
    for line in ["Title: Seed", "BEGIN TRANSCRIPT:", "THERAPIST: Hello there.", "CLIENT: Hi. [laughs]",
                 "END TRANSCRIPT"]:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _csv_seed() -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["transcript_id", "video_title", "utterance_id", "interlocutor", "utterance_text"])
    w.writerow([0, 'Brief intervention: "Ann"', 0, "therapist", "How are you? [laughs]"])
    w.writerow([0, 'Brief intervention: "Ann"', 1, "client", "Fine, thanks."])
    return out.getvalue().encode()


SEEDS = {
    "seed.txt": (demo_transcripts()[0].read_bytes() if demo_transcripts() else
                 b"Title: x\nBEGIN TRANSCRIPT:\nTHERAPIST: hi\nCLIENT: yo\nEND TRANSCRIPT\n"),
    "seed.csv": _csv_seed(),
    "seed.json": json.dumps({"messages": [{"role": "user", "content": "hi"},
                                          {"role": "assistant", "content": "hello [pause]"}]}).encode(),
    "seed.jsonl": b'{"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}\n',
    "seed.docx": _docx_seed(),
}


@st.composite
def mutated_seed(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[i : i + draw(st.integers(1, 64))]
    return name, bytes(data)


LABEL_LINES = st.lists(
    st.tuples(
        st.sampled_from(["THERAPIST", "CLIENT", "DR. LEE", "Therapist", "X", "COUNSELOR (00:01)", "[00:01] CLIENT",
                         "PATIENT", "Title", "BEGIN TRANSCRIPT", "END TRANSCRIPT", ""]),
        st.text(max_size=40),
    ),
    max_size=12,
).map(lambda lines: "\n".join(f"{label}: {text}" if label else text for label, text in lines))

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252"]


# parse_bytes ##################################################################


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2048), format=st.sampled_from(FORMAT_CHOICES),
       name=st.sampled_from(["f.txt", "f.csv", "f.json", "f.jsonl", "f.docx", "noext"]))
@example(data=b"\x00" * 10, format=None, name="f.txt")
@example(data=b"PK\x03\x04word/", format=None, name="f.docx")
def test_arbitrary_bytes(data: bytes, format: str | None, name: str) -> None:
    check_result(Path(name), data, format)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=300), LABEL_LINES), encoding=st.sampled_from(ENCODINGS),
       format=st.sampled_from(FORMAT_CHOICES))
def test_arbitrary_text_in_any_encoding(text: str, encoding: str, format: str | None) -> None:
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")  # undecodable bytes are part of the test
    check_result(Path("t.txt"), data, format)


@settings(max_examples=300, deadline=None)
@given(text=LABEL_LINES)
def test_labelled_text_keeps_every_labelled_turn_or_fails_cleanly(text: str) -> None:
    result = check_result(Path("t.txt"), text.encode("utf-8"), "text")
    if result is not None:
        assert all(t.format == "text" for t in result)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["messages", "conversations", "role", "from", "content", "value", "title",
                         "id", "category", "client_names", "client_id", "text", "type"]),
        inner, max_size=5),
    max_leaves=25,
)
MESSAGE = st.fixed_dictionaries({
    "role": st.sampled_from(["user", "assistant", "system", "tool", "gpt", "human", "other"]),
    "content": st.one_of(st.text(max_size=40), st.none(), st.lists(st.fixed_dictionaries(
        {"type": st.just("text"), "text": st.text(max_size=20)}), max_size=2)),
})


@settings(max_examples=300, deadline=None)
@given(doc=st.one_of(JSON_VALUES, st.fixed_dictionaries({"messages": st.lists(MESSAGE, max_size=6)})),
       jsonl=st.booleans())
def test_arbitrary_json_shapes(doc, jsonl: bool) -> None:
    if jsonl:
        data = (json.dumps(doc) + "\n" + json.dumps(doc)).encode()
        check_result(Path("c.jsonl"), data, "chat")
    else:
        check_result(Path("c.json"), json.dumps(doc).encode(), "chat")


@settings(max_examples=300, deadline=None)
@given(seed=mutated_seed(), format=st.sampled_from(FORMAT_CHOICES))
def test_mutated_valid_files(seed: tuple[str, bytes], format: str | None) -> None:
    name, data = seed
    check_result(Path(name), data, format)


def test_unmutated_seeds_are_valid() -> None:
    # Otherwise the mutation test would only ever see failures.
    for name, data in SEEDS.items():
        assert check_result(Path(name), data, None), name


# import_paths: never a partial write ##########################################


@pytest.mark.slow
def test_import_paths_writes_whole_files_or_nothing(tmp_path_factory: pytest.TempPathFactory) -> None:
    store = open_store(tmp_path_factory.mktemp("ws"))
    folder = tmp_path_factory.mktemp("inputs")
    counter = itertools.count()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(inputs=st.lists(
        st.one_of(mutated_seed(), st.tuples(st.sampled_from(["b.txt", "b.json", "b.csv", "b.docx"]),
                                            st.binary(max_size=512))),
        min_size=1, max_size=3))
    def run(inputs: list[tuple[str, bytes]]) -> None:
        n = next(counter)
        paths = []
        for i, (name, data) in enumerate(inputs):
            path = folder / f"{n}-{i}-{name}"
            path.write_bytes(data)
            paths.append(path)
        before = list(transcript_store.iter_dump(store))
        report = import_paths(store, paths)  # must not raise
        after = list(transcript_store.iter_dump(store))
        assert after[: len(before)] == before  # nothing already stored changed
        new = after[len(before) :]
        assert len(new) == report.imported_transcripts
        for result in report.files:
            if result.status == "failed":
                assert result.message and "\n" not in result.line()
                assert result.line().startswith(result.path)
                assert not result.transcript_ids
        # every stored transcript of a file is complete: exactly what parsing gives
        for result in report.files:
            if result.status != "imported":
                continue
            parsed = parse_bytes(Path(result.path), Path(result.path).read_bytes())
            stored = [item for item in new if item["id"] in result.transcript_ids]
            expected = {tuple((t.role.value, t.speaker, t.text) for t in p.turns) for p in parsed}
            for item in stored:
                assert tuple((u["role"], u["speaker"], u["text"]) for u in item["turns"]) in expected

    try:
        run()
    finally:
        store.close()


# Decoding: a stray byte never costs the rest of the file (issue 11) ############

_TEXT = st.text(alphabet=st.sampled_from(list("abc XYZ\n.,?'") + list("éàüßçñøΩж中😀")), min_size=1, max_size=200)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, data=st.data())
def test_stray_bytes_in_utf8_become_replacement_characters_and_nothing_else_changes(text: str, data) -> None:
    from core.importers.decoding import collect_notes, decode_text

    wide = sum(1 for ch in text if ord(ch) > 0x7F)
    if not text.strip() or wide == 0:
        return
    # At most as many stray bytes as valid multi-byte characters: still a UTF-8 file.
    n = data.draw(st.integers(1, wide))
    # Apart (unique spots): two stray bytes side by side can spell a valid character.
    spots = sorted(data.draw(st.lists(st.integers(0, len(text)), min_size=n, max_size=n, unique=True)))
    stray = data.draw(st.lists(st.sampled_from([0x80, 0xA9, 0xBF, 0xC3, 0xE2, 0xF0, 0xFF]), min_size=n, max_size=n))
    raw, expected, last = b"", "", 0
    for spot, byte in zip(spots, stray, strict=True):
        raw += text[last:spot].encode() + bytes([byte])
        expected += text[last:spot] + "\ufffd"
        last = spot
    raw += text[last:].encode()
    expected += text[last:]
    with collect_notes() as notes:
        decoded = decode_text(Path("t.txt"), raw)
    assert decoded == expected
    assert notes and notes[0].startswith(f"{n} undecodable byte")
    lines = {text[:spot].count("\n") + 1 for spot in spots}
    listed = notes[0].split("line")[-1]
    for line in sorted(lines)[:10]:
        assert str(line) in listed
