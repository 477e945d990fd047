"""CSVs read through a column mapping: turn tables, question–answer tables, and the refusals."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from cli import EXIT_FAILED, EXIT_OK, main
from core.errors import ImportFailed, ValidationError
from core.importers import ImportOptions, detect_format, parse_bytes
from core.importers.csv_mapped import GROUP_KEY, load_csv_mapping, mapping_from_dict, preview
from core.models import Role
from core.store import open_store
from core.store import transcripts as transcript_store
from tests.conftest import ANNOMI_SIMPLE, COUNSEL_CHAT, REPO, needs_annomi

needs_counsel_chat = pytest.mark.skipif(
    not COUNSEL_CHAT.exists(),
    reason=f"real counsel-chat data not present at {COUNSEL_CHAT} (only in the Attune workplace checkout)",
)

DOC = REPO / "docs" / "importing.md"


def doc_mapping(heading: str) -> dict:
    """The first ```json block after ``heading`` in docs/importing.md: the doc is the source."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading)
    block = re.search(r"```json\n(.*?)```", text[start:], re.S)
    assert block is not None, f"no JSON block after {heading!r} in {DOC}"
    return json.loads(block.group(1))


def table(rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


TURNS = [
    ["conversation", "line", "who", "utterance", "site"],
    ["s1", "2", "seeker", "I can't sleep since the move.", "north"],
    ["s1", "1", "counsellor", "What brings you in today?", ""],
    ["s2", "1", "Dr. Okafor", "Welcome back.", "south"],
    ["s1", "3", "counsellor", "Tell me about the nights.", "north"],
    ["s2", "2", "visitor", "Thanks.", "south"],
]
TURN_MAP = {
    "kind": "turns",
    "session": "conversation",
    "order": "line",
    "speaker": "who",
    "text": "utterance",
    "roles": {"counsellor": "therapist", "seeker": "client"},
    "metadata": ["site"],
}


def parse(rows: list[list[object]], mapping: dict, name: str = "table.csv"):
    options = ImportOptions(csv_map=mapping_from_dict(mapping, source="map.json"))
    return parse_bytes(Path(name), table(rows), options=options)


def test_turn_table_groups_orders_and_keeps_metadata() -> None:
    s1, s2 = parse(TURNS, TURN_MAP)
    assert [(t.role, t.text) for t in s1.turns] == [
        (Role.THERAPIST, "What brings you in today?"),
        (Role.CLIENT, "I can't sleep since the move."),
        (Role.THERAPIST, "Tell me about the nights."),
    ]
    assert s1.metadata == {"site": "north", "session": "s1"}  # first non-empty value
    assert s1.client_key == "table:s1" and s1.format == "csv"
    # Speaker labels the mapping does not name fall back to the usual rules.
    assert [t.role for t in s2.turns] == [Role.THERAPIST, Role.OTHER]
    assert s2.unknown_labels == ["visitor"]


def test_turn_table_with_a_role_column_and_title() -> None:
    rows = [
        ["sid", "role", "name", "text", "title"],
        ["7", "Therapist", "Ana", "Hello.", "Intake"],
        ["7", "client", "Bo", "Hi.", "Intake"],
    ]
    (t,) = parse(rows, {"kind": "turns", "session": "sid", "role": "role", "speaker": "name",
                        "text": "text", "title": "title"})
    assert t.title == "Intake"
    assert [(x.role, x.speaker) for x in t.turns] == [(Role.THERAPIST, "Ana"), (Role.CLIENT, "Bo")]
    assert t.metadata == {"session": 7}  # whole numbers are stored as numbers


def test_question_answer_rows_share_a_group() -> None:
    rows = [
        ["qid", "question", "answer", "topic", "votes"],
        ["10", "I feel low most days.", "Thank you for writing. What helps, even a little?", "depression", "3"],
        ["10", "I feel low most days.", "Low days are worth talking through with someone.", "depression", "0"],
        ["11", "My boss shouts.", "That sounds hard.", "workplace", ""],
    ]
    a, b, c = parse(rows, {"kind": "question_answer", "client_text": "question",
                           "therapist_text": "answer", "group": "qid", "metadata": {"topic": "topic", "votes": "upvotes"}})
    for t in (a, b, c):
        assert [x.role for x in t.turns] == [Role.CLIENT, Role.THERAPIST]
    assert a.metadata == {"topic": "depression", "upvotes": 3, GROUP_KEY: 10}
    assert b.metadata[GROUP_KEY] == a.metadata[GROUP_KEY] and b.client_key == a.client_key
    assert c.client_key != a.client_key and "upvotes" not in c.metadata
    assert a.title.endswith("(answer 1 of 2)") and b.title.endswith("(answer 2 of 2)")
    assert "answer" not in c.title


def test_an_unmapped_csv_names_its_columns_and_how_to_map_them() -> None:
    rows = [["questionID", "questionText", "answerText"], ["1", "Why?", "Because."]]
    with pytest.raises(ImportFailed) as info:
        parse_bytes(Path("qa.csv"), table(rows))
    reason = info.value.reason
    assert "'questionID', 'questionText', 'answerText'" in reason
    assert "--csv-map" in reason and "docs/importing.md" in reason
    assert "THERAPIST:" not in reason and "\n" not in reason
    # The suggested mapping is valid and reads the file.
    suggestion = json.loads(reason[reason.index("e.g. ") + 5 : reason.rindex(" (docs/")])
    assert suggestion["client_text"] == "questionText"
    (t,) = parse(rows, suggestion)
    assert [x.text for x in t.turns] == ["Why?", "Because."]


def test_annomi_stays_auto_detected_with_a_mapping_given() -> None:
    rows = [["transcript_id", "utterance_id", "interlocutor", "utterance_text"],
            ["0", "0", "therapist", "Hello."], ["0", "1", "client", "Hi."]]
    options = ImportOptions(csv_map=mapping_from_dict(TURN_MAP))
    (t,) = parse_bytes(Path("annomi.csv"), table(rows), options=options)
    assert t.format == "annomi"


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ([], "expected a JSON object"),
        ({"kind": "rows"}, '"kind" must be one of'),
        ({"kind": "turns", "session": "s", "text": "t"}, "role or speaker"),
        ({"kind": "turns", "session": "s", "speaker": "w", "text": "t", "txet": "x"}, "'txet'"),
        ({"kind": "question_answer", "client_text": "q"}, "'therapist_text'"),
        ({"kind": "question_answer", "client_text": "q", "therapist_text": "a", "metadata": "topic"}, "metadata"),
        ({"kind": "turns", "session": "s", "speaker": "w", "text": "t", "roles": {"x": "nurse"}}, "nurse"),
    ],
)
def test_bad_mappings_are_one_line_naming_the_file(mapping: object, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps(mapping))
    with pytest.raises(ValidationError) as info:
        load_csv_mapping(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_a_column_the_file_lacks_is_named_with_the_columns_found() -> None:
    with pytest.raises(ImportFailed) as info:
        parse(TURNS, {**TURN_MAP, "text": "message"})
    assert "'message'" in info.value.reason and "map.json" in info.value.reason
    assert "'utterance'" in info.value.reason


def test_a_bad_order_value_names_its_line() -> None:
    rows = [TURNS[0], ["s1", "first", "seeker", "Hi.", ""]]
    with pytest.raises(ImportFailed) as info:
        parse(rows, TURN_MAP)
    assert "line 2" in info.value.reason and "order" in info.value.reason


def test_preview_reads_only_the_first_rows() -> None:
    header, rows = preview(Path("t.csv"), table(TURNS), rows=2)
    assert header == TURNS[0] and rows == [TURNS[1], TURNS[2]]
    assert detect_format(Path("t.tsv"), b"a\tb\n1\t2\n") == "csv"
    # A speaker-labelled transcript saved as .csv has one column: it is read as text.
    assert detect_format(Path("session.csv"), b"THERAPIST: Hello.\nCLIENT: Hi.\n") == "text"


@needs_counsel_chat
def test_counsel_chat_imports_through_the_documented_mapping(tmp_path: Path, capsys) -> None:
    mapping = doc_mapping("#### counsel-chat")
    map_file = tmp_path / "counsel-chat.json"
    map_file.write_text(json.dumps(mapping))
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(COUNSEL_CHAT)]) == EXIT_FAILED
    assert "--csv-map" in capsys.readouterr().err
    assert main(["--home", str(home), "import", "--csv-map", str(map_file), str(COUNSEL_CHAT)]) == EXIT_OK

    with COUNSEL_CHAT.open(newline="", encoding="utf-8") as f:
        source = list(csv.DictReader(f))
    with open_store(home) as store:
        stored = transcript_store.list_transcripts(store)
        turns = {t.id: transcript_store.turns_of(store, t.id) for t in stored}
    # Every answer is there (a few answers recur word for word under a second question id).
    def words(text: str) -> str:
        return " ".join(text.split())

    pairs = {(words(r["questionText"]), words(r["answerText"])) for r in source}
    assert len(stored) <= len(source)
    assert {(words(ts[0].raw_text), words(ts[1].raw_text)) for ts in turns.values()} == pairs
    topics = defaultdict(set)
    for r in source:
        topics[int(r["questionID"])].add(r["topic"])
    groups = defaultdict(set)
    for t in stored:
        group = t.metadata[GROUP_KEY]
        assert t.metadata["topic"] in topics[group]  # the topic is stored, and it is the row's
        assert isinstance(t.metadata["upvotes"], int)
        groups[group].add(t.client_key)
    assert len(groups) == len(topics)
    assert all(len(keys) == 1 for keys in groups.values())  # one question, one client
    for tid, ts in turns.items():
        assert [t.role for t in ts] == [Role.CLIENT, Role.THERAPIST], tid


@needs_annomi
def test_annomi_quality_and_topic_are_stored() -> None:
    parsed = parse_bytes(ANNOMI_SIMPLE, ANNOMI_SIMPLE.read_bytes())
    assert {t.metadata["mi_quality"] for t in parsed} == {"high", "low"}
    assert all(t.metadata["topic"] for t in parsed)


def _blocks_after(heading: str) -> list[tuple[str, str]]:
    """(language, body) of the fenced blocks between ``heading`` and the next heading."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading) + len(heading)
    following = re.search(r"^#{2,4} ", text[start:], re.M)
    section = text[start : start + following.start()] if following else text[start:]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


@pytest.mark.parametrize(
    ("heading", "name", "turns"),
    [
        ("### Mapped CSV: a turn table", "example.csv", 3),
        ("## Plain text", "example.txt", 2),
        ("## JSON and JSONL chat", "example.json", 2),
    ],
)
def test_the_documented_examples_import(heading: str, name: str, turns: int) -> None:
    blocks = dict((lang, body) for lang, body in reversed(_blocks_after(heading)))
    options = ImportOptions()
    if name.endswith(".csv"):
        options.csv_map = mapping_from_dict(json.loads(blocks["json"]))
        data = blocks["text"]
    else:
        data = blocks["json" if name.endswith(".json") else "text"]
    (t,) = parse_bytes(Path(name), data.encode(), options=options)
    assert len(t.turns) == turns
    assert {x.role for x in t.turns} == {Role.THERAPIST, Role.CLIENT}
