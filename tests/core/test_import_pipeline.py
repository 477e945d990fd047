"""End to end through the real command line: ``attune --home WS import/dump/stats``."""

from __future__ import annotations

import csv
import json
import re
from itertools import groupby
from pathlib import Path

import pytest
from docx import Document

from cli import main
from core.resources import demo_transcripts
from tests.conftest import ANNOMI_SIMPLE, needs_annomi

# Words as the test sees them: runs of letters/digits, so punctuation and spacing
# changes made by cleaning do not count, but every dropped or altered word does.
WORD = re.compile(r"\w+")
# AnnoMI marks all its non-speech in square brackets: [laughs], [unintelligible 00:01:33].
ANNOMI_NOISE = re.compile(r"\[[^\]]*\]")


def attune(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def dump(capsys: pytest.CaptureFixture[str], home: Path) -> list[dict]:
    code, out, _ = attune(capsys, home, "dump")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


# AnnoMI #######################################################################


def _expected_annomi_sessions() -> dict[str, dict]:
    """Straight from the CSV, independently of the importer: per transcript, the title and
    the speaker turns (consecutive same-speaker utterances together, noise-only ones gone)."""
    rows: dict[str, list[dict]] = {}
    with ANNOMI_SIMPLE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["transcript_id"], []).append(row)
    sessions = {}
    for tid, utterances in rows.items():
        utterances.sort(key=lambda r: int(r["utterance_id"]))
        spoken = [(r["interlocutor"], WORD.findall(ANNOMI_NOISE.sub(" ", r["utterance_text"])))
                  for r in utterances]
        spoken = [(who, words) for who, words in spoken if words]
        turns = [(who, [w for _, words in group for w in words])
                 for who, group in groupby(spoken, key=lambda s: s[0])]
        sessions[tid] = {"title": utterances[0]["video_title"], "turns": turns,
                         "utterances": len(utterances)}
    return sessions


@needs_annomi
def test_annomi_imports_as_133_transcripts_with_every_word_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    code, out, err = attune(capsys, ws, "import", ANNOMI_SIMPLE)
    assert code == 0, err
    assert f"{ANNOMI_SIMPLE}: imported 133 transcripts" in out

    expected = _expected_annomi_sessions()
    assert len(expected) == 133
    stored = dump(capsys, ws)
    assert len(stored) == 133
    # the importer writes sessions in transcript_id order
    for item, tid in zip(stored, sorted(expected, key=int), strict=True):
        want = expected[tid]
        assert item["title"] == want["title"]
        assert item["category"] == "Other"
        assert [t["role"] for t in item["turns"]] == [who for who, _ in want["turns"]], tid
        for turn, (_, words) in zip(item["turns"], want["turns"], strict=True):
            assert WORD.findall(turn["text"]) == words, (tid, turn["text"])
            assert "[" not in turn["text"]  # all of AnnoMI's noise is bracketed
    total_words = sum(len(words) for s in expected.values() for _, words in s["turns"])
    assert sum(len(WORD.findall(t["text"])) for item in stored for t in item["turns"]) == total_words
    # A clock time said in a session is speech, not a timestamp.
    assert any("6:15" in t["text"] for item in stored for t in item["turns"])

    before = dump(capsys, ws)
    code, out, _ = attune(capsys, ws, "import", ANNOMI_SIMPLE)
    assert code == 0
    assert f"{ANNOMI_SIMPLE}: already imported" in out
    assert dump(capsys, ws) == before

    code, out, _ = attune(capsys, ws, "stats")
    assert code == 0
    therapist = [len(t["text"].split()) for item in before for t in item["turns"] if t["role"] == "therapist"]
    under_8 = sum(n < 8 for n in therapist)
    plus_50 = sum(n >= 50 for n in therapist)
    assert re.search(rf"therapist < 8 words\s+{under_8} \({under_8 / len(therapist):.1%} of therapist turns\)", out)
    assert re.search(rf"therapist 50\+ words\s+{plus_50}\b", out)
    # AnnoMI's published figures (data README): ~42.6 % under 8 words, 343 at 50+ per
    # utterance; merged turns move them only slightly.
    assert 0.40 < under_8 / len(therapist) < 0.45 and 320 < plus_50 < 360


# Folders, formats and bad input ###############################################


def _docx(path: Path, lines: list[str]) -> None:
    document = Document()
    for line in lines:
        document.add_paragraph(line)
    document.save(path)


def _good_inputs(root: Path) -> int:
    """A nested folder of one file per format; returns how many transcripts it holds."""
    (root / "a" / "b").mkdir(parents=True)
    (root / "top.txt").write_text("THERAPIST: Hello from the top.\nCLIENT: Hi.\n", encoding="utf-8")
    (root / "a" / "chat.jsonl").write_text(
        json.dumps({"messages": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}]})
        + "\n"
        + json.dumps({"conversations": [{"from": "human", "value": "three"}, {"from": "gpt", "value": "four"}]})
        + "\n",
        encoding="utf-8",
    )
    _docx(root / "a" / "b" / "deep.docx", ["THERAPIST: Deep in the tree.", "CLIENT: Found it."])
    (root / "a" / "b" / "notes.csv").write_text(
        "transcript_id,video_title,utterance_id,interlocutor,utterance_text\n"
        "1,Small,0,therapist,How are you?\n1,Small,1,client,Okay.\n", encoding="utf-8")
    (root / "a" / ".hidden.txt").write_text("THERAPIST: never read\n", encoding="utf-8")
    return 5


def test_a_folder_imports_recursively(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = _good_inputs(tmp_path / "in")
    code, out, err = attune(capsys, tmp_path / "ws", "import", tmp_path / "in")
    assert code == 0, err
    assert out.strip().endswith(f"{n} transcripts imported, 0 failed")
    stored = dump(capsys, tmp_path / "ws")
    assert len(stored) == n
    assert {Path(item["source"]).name for item in stored} == {"top.txt", "chat.jsonl", "deep.docx", "notes.csv"}
    assert not any("never read" in t["text"] for item in stored for t in item["turns"])


def _bad_inputs(root: Path) -> dict[str, str]:
    """file name → the reason its one line must give."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.txt").write_bytes(b"  \n\n\t\n")
    (root / "noturns.txt").write_text("Just a note to self, with no speakers at all.\n", encoding="utf-8")
    (root / "undecodable.txt").write_bytes(b"THERAPIST: caf\xe9 \x81\x8d\x8f\x90\x9d\n")
    with (root / "huge.txt").open("wb") as f:  # sparse: costs no disk
        f.truncate(50 * 1024 * 1024 + 1)
    (root / "broken.json").write_text('{"messages": [\n{"role": "user", "content": "hi"}\n{oops}\n]}', encoding="utf-8")
    return {
        "binary.txt": "binary file, not a transcript",
        "empty.txt": "the file is empty",
        "blank.txt": "the file is empty",
        "noturns.txt": "no speaker turns found",
        "undecodable.txt": "cannot be decoded",
        "huge.txt": "over 50 MB",
        "broken.json": "line 3",
    }


def test_each_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    demos = [str(p) for p in demo_transcripts()]
    assert attune(capsys, ws, "import", *demos)[0] == 0
    before = dump(capsys, ws)
    assert before

    reasons = _bad_inputs(tmp_path / "bad")
    code, out, err = attune(capsys, ws, "import", tmp_path / "bad")
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == len(reasons)
    for name, reason in reasons.items():
        [line] = [ln for ln in lines if ln.startswith(str(tmp_path / "bad" / name) + ": ")]
        assert reason in line, line
    assert out.strip().endswith(f"0 transcripts imported, {len(reasons)} failed")
    assert dump(capsys, ws) == before


def test_bad_files_do_not_stop_good_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    n = _good_inputs(tmp_path / "mixed")
    reasons = _bad_inputs(tmp_path / "mixed" / "a")
    code, out, err = attune(capsys, ws, "import", tmp_path / "mixed", tmp_path / "missing.txt")
    assert code == 1
    assert len(err.splitlines()) == len(reasons) + 1
    assert f"{tmp_path / 'missing.txt'}: no such file or folder" in err
    assert len(dump(capsys, ws)) == n


def test_reimport_of_a_copy_reports_already_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    src = demo_transcripts()[0]
    copy = tmp_path / "renamed copy.txt"
    # Same session saved again as UTF-16 with Windows line endings is the same content.
    copy.write_bytes(src.read_text(encoding="utf-8").replace("\n", "\r\n").encode("utf-16"))
    assert attune(capsys, ws, "import", src)[0] == 0
    before = dump(capsys, ws)
    code, out, _ = attune(capsys, ws, "import", copy)
    assert code == 0
    assert f"{copy}: already imported" in out
    assert dump(capsys, ws) == before


UNTITLED = (
    "THERAPIST: What would you like to talk about today? It sounds like the week was a\n"
    "long one, and I’m wondering where you’d like to start.\n"
    "CLIENT: Café shifts, mostly. [sighs] I haven't slept properly since Sunday.\n"
    "THERAPIST: Since Sunday. Tell me more about that.\n"
)


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: s.encode("cp1252"),
        lambda s: s.replace("\n", "\r\n").encode("utf-16"),
    ],
    ids=["same-bytes", "cp1252", "utf16-crlf"],
)
def test_the_same_session_under_another_name_is_already_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encode
) -> None:
    # No title header: the title falls back to the file name, which must not make it new.
    ws = tmp_path / "ws"
    first, second = tmp_path / "session-2024-03-05.txt", tmp_path / "copy from the shared drive.txt"
    first.write_bytes(UNTITLED.encode("utf-8"))
    second.write_bytes(encode(UNTITLED))
    assert attune(capsys, ws, "import", first)[0] == 0
    before = dump(capsys, ws)
    code, out, _ = attune(capsys, ws, "import", second)
    assert code == 0
    assert f"{second}: already imported" in out
    assert dump(capsys, ws) == before


def test_a_pdf_export_of_an_imported_session_is_already_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same words, rewrapped, labelled differently and broken by page furniture.
    ws = tmp_path / "ws"
    plain = tmp_path / "plain.txt"
    plain.write_text(UNTITLED, encoding="utf-8")
    pdf = tmp_path / "from the PDF.txt"
    pdf.write_text(
        "Weekly sessions\n\n"
        "Therapist: What would you like to talk about today? It sounds like\n"
        "the week was a long one, and I’m wondering where you’d\n\n"
        "Printed 03/14/2011 10:42 AM    Page 1 of 2\n\f"
        "Weekly sessions\n\nlike to start.\n"
        "Client: Café shifts, mostly. I haven't slept properly since Sunday.\n"
        "Therapist: Since Sunday. Tell me more about that.\n\n"
        "Printed 03/14/2011 10:42 AM    Page 2 of 2\n",
        encoding="utf-8",
    )
    assert attune(capsys, ws, "import", plain)[0] == 0
    code, out, _ = attune(capsys, ws, "import", pdf)
    assert code == 0
    assert f"{pdf}: already imported" in out
    [item] = dump(capsys, ws)
    assert item["source"] == str(plain)


def test_different_sessions_with_one_title_both_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    for n, said in enumerate(["I slept badly.", "I slept well."]):
        (tmp_path / f"s{n}.txt").write_text(f"Title: Weekly check-in\nCLIENT: {said}\n", encoding="utf-8")
    code, out, _ = attune(capsys, ws, "import", tmp_path / "s0.txt", tmp_path / "s1.txt")
    assert code == 0
    assert len(dump(capsys, ws)) == 2


def test_sessions_stored_under_the_older_hash_are_still_recognised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.importers import parse_bytes
    from core.importing import HASH_PREFIX, legacy_content_hash
    from core.store import open_store
    from core.store import transcripts as transcript_store

    ws = tmp_path / "ws"
    path = tmp_path / "old.txt"
    path.write_text(UNTITLED, encoding="utf-8")
    [parsed] = parse_bytes(path, path.read_bytes())
    with open_store(ws) as store:  # as a workspace from before the content hash changed holds it
        digest = legacy_content_hash(parsed)
        assert not digest.startswith(HASH_PREFIX)
        store.conn.execute("BEGIN")
        transcript_store.insert_transcript(store, parsed, source_path=str(path), content_hash=digest)
        store.conn.execute("COMMIT")
    code, out, _ = attune(capsys, ws, "import", path)
    assert code == 0
    assert f"{path}: already imported" in out
    assert len(dump(capsys, ws)) == 1


def test_demo_transcripts_import_with_every_category(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    code, out, err = attune(capsys, ws, "import", *demo_transcripts())
    assert code == 0, err
    assert "unknown speaker labels" not in out
    stored = dump(capsys, ws)
    assert {item["category"] for item in stored} >= {
        "Anxiety", "Depression", "Fatigue", "Frustration", "Sadness", "Anger"}
    assert all(item["client_names"] for item in stored)
    code, out, _ = attune(capsys, ws, "stats")
    assert code == 0
    therapist = [len(t["text"].split()) for item in stored for t in item["turns"] if t["role"] == "therapist"]
    plus_50 = sum(n >= 50 for n in therapist)
    assert plus_50 >= 3 * len(stored)
    assert re.search(rf"therapist 50\+ words\s+{plus_50}\b", out)
    assert re.search(r"therapist < 8 words\s+\d+ \(\d+\.\d% of therapist turns\)", out)


def test_format_and_category_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    path = tmp_path / "looks-like-text.log"
    path.write_text("NARRATOR: Once.\nTHERAPIST: Hi.\n", encoding="utf-8")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Narrator": "client"}), encoding="utf-8")
    code, out, err = attune(capsys, ws, "import", path, "--format", "text", "--category", "anger",
                            "--speaker-map", mapping)
    assert code == 0, err
    [item] = dump(capsys, ws)
    assert item["category"] == "Anger"
    assert [t["role"] for t in item["turns"]] == ["client", "therapist"]
    with pytest.raises(SystemExit) as usage:  # argparse's own exit for a usage error
        attune(capsys, ws, "import", path, "--format", "nope")
    assert usage.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
