"""A corpus of hostile inputs against every command that reads a file (issue 11).

Each kind of input goes through the real command line (``cli.main``, in
process; in a subprocess with a timeout where the input could hang or exhaust
the test process: FIFOs and devices) and must give:

* the expected exit code,
* exactly one line on stderr, naming why, and no traceback,
* no change to the workspace: ``attune.db`` byte for byte, except that
  ``attune import`` records a refused file as one "failed" row of the import log
  (the audit trail of attempts), so there every other table is compared.

The corpus is generated here in ``tmp_path``; no binary junk is committed.
``test_corpus_figures`` prints the counts recorded in docs/reliability.md.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from docx import Document

from cli import main
from core.evaluation.sample import build_sample_dataset
from core.store import open_store

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
GOOD_REPLY = {"example_id": "ex-90000001", "response": "Go on."}
TEST_IDS = ["ex-90000001", "ex-90000002", "ex-90000003", "ex-90000004"]


@dataclass(frozen=True)
class Kind:
    name: str
    command: str  # import | speaker-map | csv-map | responses | instruction | evaluate-json | evaluate-report
    make: Callable[[Path], Path | str]
    reason: str  # a substring the one stderr line must hold (case-insensitive)
    exit: int = 1
    isolate: bool = False  # run in a subprocess with a timeout (could hang or eat memory)


# Builders ######################################################################


def _write(name: str, data: bytes | str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / name
        path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
        return path

    return make


def _docx_bytes(lines: list[str]) -> bytes:
    document = Document()
    for line in lines:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


GOOD_DOCX = _docx_bytes(["THERAPIST: How has the week been for you?", "CLIENT: Long. I barely slept."])


def _zip(members: dict[str, bytes | int], *, level: int = 1) -> bytes:
    """A zip of ``members``; an int member is that many zero bytes, written in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, content in members.items():
            if isinstance(content, int):
                with archive.open(name, "w", force_zip64=True) as f:
                    chunk = b" " * MB
                    for _ in range(content // MB):
                        f.write(chunk)
            else:
                archive.writestr(name, content)
    return out.getvalue()


def _docx_members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(GOOD_DOCX)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _lying_sizes(data: bytes) -> bytes:
    """A zip whose headers declare every member 10 bytes long, however long it inflates."""
    buf = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := buf.find(sig, start)) != -1:
            buf[i + offset : i + offset + 4] = (10).to_bytes(4, "little")
            start = i + 4
    return bytes(buf)


def _flip(data: bytes, seed: int, n: int = 12) -> bytes:
    rng = random.Random(seed)
    buf = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _junk(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _fifo(name: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / name
        os.mkfifo(path)
        return path

    return make


def _link_to(target: str, name: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / name
        path.symlink_to(target)
        return path

    return make


def _link_loop(d: Path) -> Path:
    (d / "loop-a.txt").symlink_to(d / "loop-b.txt")
    (d / "loop-b.txt").symlink_to(d / "loop-a.txt")
    return d / "loop-a.txt"


def _socket_file(d: Path) -> Path:
    # AF_UNIX paths are limited to ~100 bytes; tmp_path can be longer.
    short = Path(tempfile.mkdtemp(prefix="sk"))
    path = short / "s.txt"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    _SOCKETS.append(sock)
    return path


_SOCKETS: list[socket.socket] = []


def _sparse(name: str, size: int) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / name
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    return make


def _deep(open_: str, close: str, depth: int = 100_000) -> str:
    return open_ * depth + close * depth


def _jsonl(*objs: object) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)


def _chat(content: str) -> str:
    return '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ' + content + "}]}"


HUGE_INT = "9" * 5000
ANNOMI_HEAD = "transcript_id,video_title,utterance_id,interlocutor,utterance_text\n"


# The corpus ####################################################################

IMPORT_KINDS = [
    # archives
    Kind("docx zip bomb (one member inflating to 70 MB)", "import",
         lambda d: _write("bomb.docx", _zip({**_docx_members(), "word/document.xml": 70 * MB}))(d), "zip bomb"),
    Kind("docx zip bomb (members within bounds, 150 MB in all)", "import",
         lambda d: _write("bomb-total.docx", _zip({**_docx_members(), "word/a.xml": 50 * MB, "word/b.xml": 50 * MB,
                                                   "word/c.xml": 50 * MB}))(d), "zip bomb"),
    Kind("docx zip bomb with lying size headers", "import",
         lambda d: _write("liar.docx", _lying_sizes(_zip({**_docx_members(), "word/document.xml": 2 * MB})))(d),
         "docx"),
    Kind("zip with 5,000 members", "import",
         lambda d: _write("many.docx", _zip({f"word/p{i}.xml": b"x" for i in range(5000)}))(d), "archive members"),
    Kind("docx without word/document.xml", "import",
         lambda d: _write("hollow.docx", _zip({"[Content_Types].xml": b"<Types/>", "word/x": b"x"}))(d), "docx"),
    Kind("empty zip named .docx", "import", lambda d: _write("empty.docx", _zip({}))(d), "docx"),
    Kind("truncated docx", "import", _write("cut.docx", GOOD_DOCX[: len(GOOD_DOCX) // 2]), "docx"),
    Kind("docx with flipped bytes", "import", _write("flipped.docx", _flip(GOOD_DOCX, 1, 40)), ".docx"),
    Kind("docx with an XML entity bomb", "import",
         lambda d: _write("laughs.docx", _zip({**_docx_members(), "word/document.xml": (
             b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
             + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((c,) + (c - 1,) * 10)
                        for c in range(ord("b"), ord("j")))
             + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
             b"<w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>")}))(d), "docx"),
    Kind("docx holding a docx", "import",
         lambda d: _write("nested.docx", _zip({**_docx_members(), "word/document.xml": GOOD_DOCX}))(d), "docx"),
    Kind("plain zip archive", "import", lambda d: _write("archive.txt", _zip({"a.txt": b"THERAPIST: hi"}))(d), "zip"),
    Kind("gzip file", "import", _write("notes.txt", b"\x1f\x8b\x08\x00" + _junk(200, 2)), "gzip"),
    # not regular files
    Kind("named pipe (FIFO)", "import", _fifo("pipe.txt"), "named pipe", isolate=True),
    Kind("symlink to /dev/zero", "import", _link_to("/dev/zero", "zero.txt"), "character device", isolate=True),
    Kind("symlink to /dev/urandom", "import", _link_to("/dev/urandom", "random.txt"), "character device",
         isolate=True),
    Kind("/dev/null", "import", lambda d: "/dev/null", "character device", isolate=True),
    Kind("unix socket", "import", _socket_file, "socket"),
    Kind("dangling symlink", "import", _link_to("/nonexistent/attune-target.txt", "dangling.txt"), "no such file"),
    Kind("symlink loop", "import", _link_loop, "no such file"),
    Kind("51 MB sparse file", "import", _sparse("big.txt", 51 * MB), "over 50 MB"),
    # empty and binary
    Kind("empty file", "import", _write("empty.txt", b""), "empty"),
    Kind("whitespace only", "import", _write("blank.txt", b" \n\t\r\n  \n"), "empty"),
    Kind("UTF-8 byte order mark only", "import", _write("bom.txt", codecs.BOM_UTF8), "empty"),
    Kind("UTF-16 byte order mark only", "import", _write("bom16.txt", codecs.BOM_UTF16_LE), "empty"),
    Kind("random binary junk", "import", _write("junk.txt", _junk(4096, 3)), "binary"),
    Kind("random binary junk without extension", "import", _write("junk", _junk(70_000, 4)), "binary"),
    Kind("all NUL bytes", "import", _write("nul.txt", b"\x00" * 4096), "binary"),
    Kind("NUL bytes inside a transcript", "import",
         _write("nul-inside.txt", b"THERAPIST: hello\x00\x00 there\nCLIENT: hi\x00\n"), "binary"),
    Kind("control-character junk", "import", _write("bells.txt", b"\x07\x08\x01\x02" * 300), "binary"),
    Kind("ELF executable", "import", _write("tool.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 64 + _junk(500, 5)),
         "binary"),
    Kind("PDF", "import", _write("session.txt", b"%PDF-1.7\n" + _junk(300, 6)), "PDF"),
    Kind("PNG", "import", _write("scan.txt", b"\x89PNG\r\n\x1a\n" + _junk(300, 7)), "image"),
    Kind("JPEG", "import", _write("scan.docx", b"\xff\xd8\xff\xe0" + _junk(300, 8)), "image"),
    Kind("old Word .doc", "import", _write("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + _junk(500, 9)), ".doc"),
    Kind("RTF", "import", _write("notes.rtf", b"{\\rtf1\\ansi THERAPIST: hi}"), "RTF"),
    Kind("SQLite database", "import", _write("attune.txt", b"SQLite format 3\x00" + b"\x00" * 200), "database"),
    # encodings
    Kind("not UTF-8 nor Windows-1252", "import",
         _write("legacy.txt", b"THERAPIST: caf\x81 \x8d\x8f\x90\x9d\nCLIENT: ok\n"), "cannot be decoded"),
    Kind("UTF-16 with an odd byte count", "import",
         _write("odd16.txt", codecs.BOM_UTF16_LE + "THERAPIST: hi\nCLIENT: yo\n".encode("utf-16-le") + b"\x41"),
         "cannot be decoded"),
    Kind("UTF-32 BOM then junk", "import", _write("u32.txt", codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff" * 8),
         "cannot be decoded"),
    Kind("UTF-16 text without speaker labels", "import",
         _write("prose16.txt", "Just some prose, nobody speaking.\n".encode("utf-16")), "no speaker turns"),
    Kind("UTF-8 lone surrogates as bytes, no turns", "import",
         _write("surr.txt", b"\xed\xa0\x80\xed\xb0\x80 prose"), "no speaker turns"),
    Kind("overlong UTF-8 encodings", "import", _write("overlong.txt", b"\xc0\xaf\xe0\x80\xaf" * 50), "no speaker"),
    Kind("ANSI escape codes, no turns", "import",
         _write("ansi.txt", b"\x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07 text\n"), "no speaker turns"),
    # text shapes
    Kind("prose without speaker labels", "import", _write("prose.txt", "Nobody speaks here.\n" * 50), "no speaker"),
    Kind("labels with nothing said", "import", _write("labels.txt", "THERAPIST:\nCLIENT:\nTHERAPIST:   \n"),
         "no speaker turns"),
    Kind("10 MB line without a label", "import", _write("line.txt", "a" * (10 * MB)), "no speaker turns"),
    Kind("1 MB of spaces before a colon", "import", _write("spaces.txt", " " * MB + ":\n"), "no speaker turns"),
    Kind("200,000 empty lines", "import", _write("newlines.txt", "\n \n" * 100_000), "empty"),
    Kind("BEGIN/END markers only", "import",
         _write("markers.txt", "BEGIN TRANSCRIPT:\nEND TRANSCRIPT\n" * 100), "no speaker turns"),
    # JSON chat
    Kind("JSON nested 100,000 lists deep", "import", _write("deep.json", _deep("[", "]")), "nested too deeply"),
    Kind("JSON nested 100,000 objects deep", "import",
         _write("deepobj.json", '{"a":' * 100_000 + "1" + "}" * 100_000), "nested too deeply"),
    Kind("JSONL line nested deep", "import", _write("deep.jsonl", _chat('"x"') + "\n" + _deep("[", "]") + "\n"),
         "nested too deeply"),
    Kind("JSON 5,000-digit number", "import", _write("digits.json", _chat(HUGE_INT)), "too many digits"),
    Kind("JSON NaN", "import", _write("nan.json", _chat("NaN")), "NaN"),
    Kind("JSON Infinity", "import", _write("inf.json", _chat("Infinity")), "Infinity"),
    Kind("JSON -Infinity", "import", _write("ninf.json", _chat("-Infinity")), "Infinity"),
    Kind("JSON 1e999", "import", _write("e999.json", _chat("1e999")), "out of range"),
    Kind("truncated JSON", "import", _write("cut.json", _chat('"hello there"')[:-12]), "invalid JSON"),
    Kind("JSON with flipped bytes", "import",
         _write("flipped.json", _flip(_chat('"I hear how hard this week was."').encode(), 11, 6)), "json"),
    Kind("JSON string at top level", "import", _write("str.json", '"just a string"'), "expected"),
    Kind("JSON null", "import", _write("null.json", "null"), "expected"),
    Kind("JSON empty list", "import", _write("emptylist.json", "[]"), "no speaker turns"),
    Kind("JSON object without messages", "import", _write("nomsg.json", '{"title": "x"}'), "messages"),
    Kind("JSON messages not a list", "import", _write("msgobj.json", '{"messages": {"role": "user"}}'), "messages"),
    Kind("JSON content an object", "import",
         _write("contentobj.json", '{"messages": [{"role": "user", "content": {"a": 1}}]}'), "content"),
    Kind("JSON only system messages", "import",
         _write("system.json", '{"messages": [{"role": "system", "content": "be kind"}]}'), "no speaker turns"),
    Kind("JSON rich-text title, no turns", "import",
         _write("html.json", '{"title": "<h1 style=\\"color:red\\">x</h1><a href=\\"http://e\\">l</a>", '
                             '"messages": []}'), "no speaker turns"),
    Kind("JSON lone surrogate role, no content", "import",
         _write("surrogate.json", '{"messages": [{"role": "\\ud800"}]}'), "no speaker turns"),
    Kind("JSON with BOM then junk", "import", _write("bomjunk.json", codecs.BOM_UTF8 + b"{]"), "invalid JSON"),
    Kind("JSONL with a bad second line", "import", _write("bad.jsonl", _chat('"x"') + "\n{nope\n"), "line 2"),
    # CSV
    Kind("AnnoMI CSV header only", "import", _write("annomi.csv", ANNOMI_HEAD), "no speaker turns"),
    Kind("AnnoMI CSV with unbalanced quote", "import",
         _write("quote.csv", ANNOMI_HEAD + '0,"t,0,therapist,"hello\n1,t,1,client,hi\n'), "expected 5 fields"),
    Kind("AnnoMI CSV 200 KB field", "import",
         _write("field.csv", ANNOMI_HEAD + '0,t,0,therapist,"' + "a" * 200_000 + '"\n'), "field larger"),
    Kind("AnnoMI CSV with flipped bytes", "import",
         _write("flipped.csv", _flip((ANNOMI_HEAD + "0,t,0,therapist,Hello\n0,t,1,client,Hi\n").encode(), 3, 30)),
         "CSV"),
]

SMALL_FILE_KINDS = [
    (kind_name, command, make, reason, code, isolate)
    for command, code in (("speaker-map", 1), ("csv-map", 1))
    for kind_name, make, reason, isolate in [
        ("FIFO", _fifo("map.json"), "named pipe", True),
        ("symlink to /dev/zero", _link_to("/dev/zero", "map.json"), "character device", True),
        ("2 MB file", _write("map.json", "{" + " " * (2 * MB) + "}"), "over", False),
        ("nested 100,000 deep", _write("map.json", _deep("[", "]")), "nested too deeply", False),
        ("5,000-digit number", _write("map.json", '{"X": ' + HUGE_INT + "}"), "too many digits", False),
        ("NaN", _write("map.json", '{"X": NaN}'), "NaN", False),
        ("not UTF-8", _write("map.json", b'{"\xff": "client"}'), "not UTF-8", False),
        ("truncated", _write("map.json", '{"DR. LEE": "therap'), "not valid JSON", False),
    ]
]
SMALL_KINDS = [Kind(f"{command}: {name}", command, make, reason, code, isolate)
               for name, command, make, reason, code, isolate in SMALL_FILE_KINDS]

INSTRUCTION_KINDS = [
    Kind("system instruction: FIFO", "instruction", _fifo("instr.txt"), "named pipe", 2, True),
    Kind("system instruction: /dev/zero", "instruction", _link_to("/dev/zero", "instr.txt"), "character device",
         2, True),
    Kind("system instruction: binary", "instruction", _write("instr.txt", b"\xff\xfe\x00\x01" * 100), "not UTF-8", 2),
]

RESPONSE_KINDS = [
    Kind("responses: FIFO", "responses", _fifo("replies.jsonl"), "named pipe", isolate=True),
    Kind("responses: symlink to /dev/zero", "responses", _link_to("/dev/zero", "replies.jsonl"),
         "character device", isolate=True),
    Kind("responses: nested 100,000 deep", "responses", _write("r.jsonl", _deep("[", "]") + "\n"),
         "nested too deeply"),
    Kind("responses: object nested deep", "responses",
         _write("r.jsonl", '{"example_id": "ex-90000001", "response": ' + _deep("[", "]") + "}\n"),
         "nested too deeply"),
    Kind("responses: 5,000-digit number", "responses",
         _write("r.jsonl", '{"example_id": "ex-90000001", "response": "x", "n": ' + HUGE_INT + "}\n"),
         "too many digits"),
    Kind("responses: NaN", "responses", _write("r.jsonl", '{"example_id": "ex-90000001", "response": NaN}\n'), "NaN"),
    Kind("responses: Infinity", "responses",
         _write("r.jsonl", '{"example_id": "ex-90000001", "response": "x", "score": Infinity}\n'), "Infinity"),
    Kind("responses: 1e999", "responses",
         _write("r.jsonl", '{"example_id": "ex-90000001", "response": "x", "score": 1e999}\n'), "out of range"),
    Kind("responses: binary junk", "responses", _write("r.jsonl", _junk(4096, 12)), "nothing was imported"),
    Kind("responses: truncated line", "responses", _write("r.jsonl", json.dumps(GOOD_REPLY)[:-5] + "\n"),
         "not valid JSON"),
    Kind("responses: flipped bytes", "responses",
         _write("r.jsonl", _flip(_jsonl(*({"example_id": i, "response": "Tell me more."} for i in TEST_IDS)).encode(),
                                 5, 8)), "nothing was imported"),
    Kind("responses: Windows-1252 text", "responses",
         _write("r.jsonl", b'{"example_id": "ex-90000001", "response": "caf\xe9"}\n'), "not UTF-8"),
    Kind("responses: ANSI escapes in an unknown id", "responses",
         _write("r.jsonl", _jsonl({"example_id": "\x1b[2J\x1b]0;owned\x07", "response": "x"})), "unknown example id"),
    Kind("responses: lone surrogate in the example id", "responses",
         _write("r.jsonl", '{"example_id": "ex-\\ud800", "response": "x"}\n'), "unknown example id"),
    Kind("responses: NUL bytes in the example id", "responses",
         _write("r.jsonl", '{"example_id": "ex-9000000\\u00001", "response": "x"}\n'), "unknown example id"),
    Kind("responses: 10,000 bad lines", "responses", _write("r.jsonl", "{oops\n" * 10_000), "9999 more problems"),
    Kind("responses: empty file", "responses", _write("r.jsonl", b""), "no replies"),
    Kind("responses: a list, not an object", "responses", _write("r.jsonl", "[1, 2]\n"), "expected a JSON object"),
    Kind("responses: response an object", "responses",
         _write("r.jsonl", '{"example_id": "ex-90000001", "response": {"text": "x"}}\n'), "must be a string"),
    Kind("responses: 600 MB sparse file", "responses", _sparse("r.jsonl", 600 * MB), "over 512 MB"),
]

OUTPUT_KINDS = [  # evaluate --json/--report to a bad path ended in a traceback
    Kind("evaluate --json into a missing folder", "evaluate-json", lambda d: str(d / "no" / "such" / "out.json"),
         "cannot write"),
    Kind("evaluate --json onto a folder", "evaluate-json", lambda d: str(d), "is a folder", 2),
    Kind("evaluate --report onto a file", "evaluate-report", _write("taken", b"x"), "not a folder", 2),
    Kind("evaluate --report under /dev/null", "evaluate-report", lambda d: "/dev/null/report", "cannot create"),
]

CORPUS = [*IMPORT_KINDS, *SMALL_KINDS, *INSTRUCTION_KINDS, *RESPONSE_KINDS, *OUTPUT_KINDS]


# The workspace and the commands ################################################


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the sample dataset and a system 'base' that answered its test items."""
    home = tmp_path_factory.mktemp("hostile-home")
    store = open_store(home)
    build_sample_dataset(store)
    store.close()
    replies = tmp_path_factory.mktemp("replies") / "base.jsonl"
    replies.write_text(_jsonl(*({"example_id": i, "response": "Tell me more about that."} for i in TEST_IDS)))
    assert main(["--home", str(home), "responses", "import", "--system", "base", str(replies)]) == 0
    # The first evaluation caches the references' features; later ones write nothing.
    assert main(["--home", str(home), "evaluate", "sample-evaluation", "--systems", "base", "--resamples", "20"]) == 0
    return home


def _argv(kind: Kind, home: Path, target: str, scratch: Path) -> list[str]:
    base = ["--home", str(home)]
    if kind.command == "import":
        return [*base, "import", target]
    good = scratch / "good.txt"
    good.write_text("THERAPIST: How are you?\nCLIENT: Fine.\n")
    if kind.command == "speaker-map":
        return [*base, "import", "--speaker-map", target, str(good)]
    if kind.command == "csv-map":
        return [*base, "import", "--csv-map", target, str(good)]
    if kind.command == "instruction":
        return [*base, "dataset", "build", "hostile-ds", "--system-instruction-file", target]
    if kind.command == "responses":
        return [*base, "responses", "import", "--system", "hostile", target]
    evaluate = [*base, "evaluate", "sample-evaluation", "--systems", "base", "--resamples", "20"]
    if kind.command == "evaluate-json":
        return [*evaluate, "--json", target]
    return [*evaluate, "--report", target]


def _db_bytes(home: Path) -> str:
    h = hashlib.sha256()
    for name in ("attune.db", "attune.db-wal"):
        path = home / name
        h.update(name.encode())
        h.update(path.read_bytes() if path.exists() else b"<absent>")
    return h.hexdigest()


def _content(home: Path) -> tuple[str, list[tuple]]:
    """(hash of every table but the import log, the import log's rows)."""
    conn = sqlite3.connect(f"file:{home / 'attune.db'}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        # Sorted: an import drops and re-creates the FTS trigger around its bulk insert,
        # which moves it in the schema without changing it.
        for line in sorted(conn.iterdump()):
            if 'INTO "import_log"' not in line:
                h.update(line.encode("utf-8", "surrogatepass"))
        log = conn.execute("SELECT path, status, transcript_id FROM import_log ORDER BY id").fetchall()
    finally:
        conn.close()
    return h.hexdigest(), log


def _run(kind: Kind, argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit code, stderr); in process unless the input could hang or exhaust memory."""
    if not kind.isolate:
        capfd.readouterr()
        code = main(argv)
        return code, capfd.readouterr().err
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from cli import main; sys.exit(main(sys.argv[1:]))", *argv],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return proc.returncode, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", CORPUS, ids=[k.name for k in CORPUS])
def test_hostile_input_gives_one_line_and_writes_nothing(
    kind: Kind, home: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    target = kind.make(tmp_path)
    argv = _argv(kind, home, str(target), tmp_path)
    before_bytes, (before_content, before_log) = _db_bytes(home), _content(home)

    code, err = _run(kind, argv, capfd)

    lines = err.splitlines()
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err[:2000]}"
    assert kind.reason.lower() in lines[0].lower(), lines[0]
    assert "\x1b" not in err
    assert code == kind.exit, (code, lines[0])
    after_content, after_log = _content(home)
    assert after_content == before_content, "the workspace changed"
    if kind.command == "import" and after_log != before_log:
        # The one permitted write: the attempt, recorded as failed, naming the file.
        assert after_log[: len(before_log)] == before_log
        assert [row[1:] for row in after_log[len(before_log):]] == [("failed", None)]
    elif kind.command != "import":
        assert _db_bytes(home) == before_bytes, "attune.db changed"


def test_corpus_figures() -> None:
    # The issue asks for at least the 69 kinds of the fault-injection run.
    assert len(IMPORT_KINDS) >= 69
    assert len({k.name for k in CORPUS}) == len(CORPUS)
    by_command: dict[str, int] = {}
    for k in CORPUS:
        by_command[k.command] = by_command.get(k.command, 0) + 1
    print(f"hostile inputs: {len(CORPUS)} ({by_command})")


def teardown_module() -> None:
    for sock in _SOCKETS:
        path = Path(sock.getsockname())
        sock.close()
        path.unlink(missing_ok=True)
        path.parent.rmdir()


# Inputs that are repaired, and say so ##########################################


def _attune(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _turns(home: Path) -> list[dict]:
    store = open_store(home)
    try:
        from core.store import transcripts as transcript_store

        return list(transcript_store.iter_dump(store))
    finally:
        store.close()


def test_a_stray_byte_in_utf8_is_replaced_and_reported_not_mojibake(tmp_path: Path, capsys) -> None:
    path = tmp_path / "stray.txt"
    path.write_bytes("THERAPIST: Était-ce difficile, la thérapie ?\nCLIENT: Oui, très. \xff Déçu.\n"
                     .encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    code, out, err = _attune(capsys, "--home", tmp_path / "ws", "import", path)
    assert code == 0, err
    assert "1 undecodable byte shown as \ufffd (line 2)" in out
    [item] = _turns(tmp_path / "ws")
    texts = [t["text"] for t in item["turns"]]
    assert texts[0] == "Était-ce difficile, la thérapie ?"  # not "Ã‰tait"
    assert "très. \ufffd Déçu." in texts[1]


def test_a_file_that_is_not_utf8_at_all_is_read_as_windows_1252_and_says_so(tmp_path: Path, capsys) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("THERAPIST: Ça va, José ?\nCLIENT: Très bien, merci.\n".encode("cp1252"))
    code, out, err = _attune(capsys, "--home", tmp_path / "ws", "import", path)
    assert code == 0, err
    assert "not UTF-8: decoded as Windows-1252" in out
    [item] = _turns(tmp_path / "ws")
    assert [t["text"] for t in item["turns"]] == ["Ça va, José ?", "Très bien, merci."]


def test_nul_bytes_and_lone_surrogates_never_reach_the_store(tmp_path: Path, capsys) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({
        "title": "Session\u0000 \ud800one",
        "messages": [{"role": "user", "content": "I feel\u0000 low \udc00today."},
                     {"role": "assistant", "content": "Tell me more."}],
    }), encoding="utf-8")
    code, _, err = _attune(capsys, "--home", tmp_path / "ws", "import", path)
    assert code == 0, err
    [item] = _turns(tmp_path / "ws")
    assert item["title"] == "Session \ufffdone"
    assert item["turns"][0]["text"].startswith("I feel low \ufffdtoday")


def test_surrogates_and_nuls_in_replies_are_stored_cleanly(home: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"example_id": "ex-90000001", "response": "Go\\u0000 on \\ud800 please."}\n')
    code, out, err = _attune(capsys, "--home", home, "responses", "import", "--system", "odd", path)
    assert code == 0, err
    store = open_store(home)
    try:
        [text] = [r[0] for r in store.conn.execute(
            "SELECT r.text FROM responses r JOIN systems s ON s.id = r.system_id WHERE s.name = 'odd'")]
    finally:
        store.close()
    assert text == "Go on \ufffd please."
    assert main(["--home", str(home), "responses", "delete", "--system", "odd"]) == 0


def test_hidden_files_and_symlinked_folders_are_reported_as_skipped(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / ".a.txt").write_text("THERAPIST: hi\nCLIENT: yo\n")
    (folder / ".b.txt").write_text("THERAPIST: hi again\nCLIENT: yo\n")
    (tmp_path / "elsewhere").mkdir()
    (folder / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    code, out, err = _attune(capsys, "--home", tmp_path / "ws", "import", folder)
    assert code == 0, err
    skipped = next(line for line in out.splitlines() if "skipped" in line)
    assert skipped.startswith("3 skipped: ") and "2 hidden" in skipped and "1 symlinked folder" in skipped
    assert out.strip().endswith("0 transcripts imported, 0 failed")


# Imported text is text ##########################################################

ANSI_TITLE = "\x1b[2J\x1b]0;owned\x07\x1b[31mRed\x1b[0m <h1 style=\"color:red\">T</h1>"


def test_escape_sequences_in_user_data_never_reach_the_terminal(tmp_path: Path, capsys) -> None:
    path = tmp_path / "evil\x1b[31m.json"
    path.write_text(json.dumps({"title": ANSI_TITLE, "messages": [
        {"role": "user", "content": "hi"}, {"role": "\x1b[5mDR\x1b[0m", "content": "hello \x1b[2J"}]}))
    code, out, err = _attune(capsys, "--home", tmp_path / "ws", "import", path)
    assert code == 0, err
    assert "\x1b" not in out + err
    for argv in (["transcripts"], ["transcripts", "--json"], ["dump"], ["show", "1"]):
        code, out, err = _attune(capsys, "--home", tmp_path / "ws", *argv)
        assert "\x1b" not in out + err, argv
        assert "\x07" not in out + err
    # Stored as imported: the text is the user's; only its display is made safe.
    assert _turns(tmp_path / "ws")[0]["title"] == ANSI_TITLE


def test_markdown_reports_escape_names() -> None:
    from core.text_safety import markdown_code, markdown_inline

    heading = f"# Dataset {markdown_code('my `data` set')}"
    assert heading == "# Dataset ``my `data` set``"
    assert markdown_inline("<script>alert(1)</script> | x") == "\\<script\\>alert(1)\\</script\\> \\| x"
    assert "\n" not in markdown_inline("a\nb")


def test_evaluation_markdown_has_no_raw_html(home: Path) -> None:
    from dataclasses import replace

    from core.evaluation.evaluate import evaluate
    from core.evaluation.report import to_markdown

    store = open_store(home)
    try:
        result = evaluate(store, "sample-evaluation", ["base"], resamples=20)
    finally:
        store.close()
    text = to_markdown(replace(result, dataset='<img src=x onerror="alert(1)"> `x`'))
    assert not re.search(r"(?<!\\)<", text)  # every "<" escaped: no raw HTML
    assert "\\<img src=x onerror=\"alert(1)\"\\> \\`x\\`" in text.splitlines()[0]


def test_dataset_card_heading_survives_a_name_with_backticks_and_html(store, tmp_path: Path) -> None:
    from core.datasets import DatasetRules, build_dataset, export_dataset
    from tests.core.datasets_fixtures import populate

    populate(store, n_sessions=8)
    name = "my `data` <img src=x onerror=alert(1)>"
    build_dataset(store, name, DatasetRules())
    export_dataset(store, name, tmp_path / "out")
    heading = (tmp_path / "out" / "DATASET.md").read_text(encoding="utf-8").splitlines()[0]
    # A code span fenced longer than any backtick run inside it: the name shows as typed.
    assert heading == "# Dataset ``my `data` <img src=x onerror=alert(1)>``"  # HTML in a code span is text
