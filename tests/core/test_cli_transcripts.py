"""Reading and categorising from the command line: show, metadata, transcripts --json, set-category."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from core import curation
from cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from cli.transcript_cmds import parse_turn_range
from core.errors import UsageError
from core.models import Category, ParsedTranscript, ParsedTurn, Role
from core.store import open_store
from core.store import transcripts as transcript_store
from tests.conftest import ANNOMI_SIMPLE, needs_annomi


def _turns(n: int) -> list[ParsedTurn]:
    out = []
    for i in range(n):
        role = Role.THERAPIST if i % 2 == 0 else Role.CLIENT
        text = f"utterance number {i + 1} " + "word " * (i % 5)
        out.append(ParsedTurn(role, role.value.title(), text.strip(), text.strip()))
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Two transcripts with metadata; the second's turn ids do not start at 1."""
    home = tmp_path / "home"
    with open_store(home) as store, store.transaction():
        for i, (topic, quality) in enumerate((("sleep", "high"), ("alcohol", "low"), ("sleep", "low"))):
            transcript_store.insert_transcript(
                store,
                ParsedTranscript(f"Session {i}", "test", _turns(12), metadata={"topic": topic, "mi_quality": quality,
                                                                                "upvotes": i}),
                source_path=f"s{i}.txt", content_hash=f"h{i}",
            )
    return home


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_show_numbers_turns_per_transcript_and_gives_the_id_beside(home: Path, capsys) -> None:
    with open_store(home) as store:
        turns = transcript_store.turns_of(store, 2)
    assert turns[0].id == 13 and turns[0].number == 1  # ids run on across transcripts
    code, out, _ = _run(capsys, "--home", str(home), "show", "2", "--turns", "3-5")
    assert code == EXIT_OK
    heads = [line for line in out.splitlines() if line.startswith("#")]
    assert [h.split()[0] for h in heads] == ["#3", "#4", "#5"]
    assert heads[0].startswith("#3  therapist") and f"id {turns[2].id}" in heads[0]
    assert "utterance number 3" in out and "utterance number 6" not in out
    assert "topic: alcohol" in out


def test_show_reports_the_effective_decision(home: Path, capsys) -> None:
    with open_store(home) as store:
        turn = transcript_store.turns_of(store, 1)[4]
        curation.exclude(store, [turn.id], rater="A", reason=curation.ExcludeReason.CRISIS)
        curation.include(store, [transcript_store.turns_of(store, 1)[2].id], rater="A")
    code, out, _ = _run(capsys, "--home", str(home), "show", "1", "--json")
    assert code == EXIT_OK
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["turn"] for r in rows] == list(range(1, 13))
    by_turn = {r["turn"]: r for r in rows}
    assert by_turn[5]["decision"].startswith("excluded") and by_turn[5]["id"] == turn.id
    assert by_turn[3]["decision"] == "included"
    assert by_turn[2]["decision"] == "-" and by_turn[1]["decision"] == "unreviewed"


@pytest.mark.parametrize(("text", "expected"), [("3-7", (3, 7)), ("4", (4, 4)), ("-2", (1, 2)), ("3–5", (3, 5))])
def test_turn_ranges(text: str, expected: tuple[int, int]) -> None:
    assert parse_turn_range(text) == expected


@pytest.mark.parametrize("text", ["x", "5-2", "0-3", "1-2-3"])
def test_bad_turn_ranges_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_turn_range(text)


def test_show_outside_the_transcript_says_its_range(home: Path, capsys) -> None:
    code, _, err = _run(capsys, "--home", str(home), "show", "1", "--turns", "20-30")
    assert code == EXIT_USAGE and "1 to 12" in err
    code, _, err = _run(capsys, "--home", str(home), "show", "99")
    assert code == EXIT_FAILED and "99" in err


def test_transcripts_json_includes_metadata_and_where_filters(home: Path, capsys) -> None:
    code, out, _ = _run(capsys, "--home", str(home), "transcripts", "--json", "--where", "topic=sleep")
    assert code == EXIT_OK
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == [1, 3]
    assert rows[1]["metadata"] == {"topic": "sleep", "mi_quality": "low", "upvotes": 2}
    code, out, _ = _run(capsys, "--home", str(home), "transcripts", "--json", "--where", "upvotes=2")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [3]  # numbers match as text


def test_metadata_lists_keys_and_values(home: Path, capsys) -> None:
    code, out, _ = _run(capsys, "--home", str(home), "metadata", "--json")
    keys = {r["key"]: r for r in map(json.loads, out.splitlines())}
    assert keys["topic"] == {"key": "topic", "transcripts": 3, "values": 2}
    code, out, _ = _run(capsys, "--home", str(home), "metadata", "topic", "--json")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"value": "sleep", "transcripts": 2}, {"value": "alcohol", "transcripts": 1}]


def test_set_category_where_is_one_undoable_step(home: Path, capsys) -> None:
    code, out, _ = _run(capsys, "--home", str(home), "set-category", "--rater", "A",
                        "--where", "topic=sleep", "--where", "mi_quality=low", "Fatigue")
    assert code == EXIT_OK and "transcript 3" in out
    code, out, _ = _run(capsys, "--home", str(home), "set-category", "--rater", "A", "--where", "topic=sleep", "Sadness")
    assert code == EXIT_OK and "2 transcripts" in out
    with open_store(home) as store:
        cats = {t.id: t.category for t in transcript_store.list_transcripts(store)}
        assert cats == {1: Category.SADNESS, 2: Category.OTHER, 3: Category.SADNESS}
        rows = [r for r in curation.decision_log(store) if r.action == "category"]
        assert len({r.batch for r in rows}) == 2  # one logged step per command
        curation.undo(store, rater="A")
        cats = {t.id: t.category for t in transcript_store.list_transcripts(store)}
    assert cats == {1: Category.OTHER, 2: Category.OTHER, 3: Category.FATIGUE}


def test_set_category_of_many_ids(home: Path, capsys) -> None:
    code, out, _ = _run(capsys, "--home", str(home), "set-category", "1", "2", "anger")
    assert code == EXIT_OK and "2 transcripts" in out
    with open_store(home) as store:
        assert [t.category for t in transcript_store.list_transcripts(store)] == [
            Category.ANGER, Category.ANGER, Category.OTHER]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["set-category", "--where", "topic=nothing-like-it", "Anger"], "sleep"),  # names known values
        (["set-category", "--where", "topic", "Anger"], "KEY=VALUE"),
        (["set-category", "1", "Anger", "--where", "topic=sleep"], "not both"),
        (["set-category", "Anger"], "transcript ids or --where"),
    ],
)
def test_set_category_refusals_change_nothing(home: Path, capsys, argv: list[str], expected: str) -> None:
    code, _, err = _run(capsys, "--home", str(home), *argv)
    assert code in (EXIT_USAGE, EXIT_FAILED) and expected in err
    with open_store(home) as store:
        assert {t.category for t in transcript_store.list_transcripts(store)} == {Category.OTHER}


@needs_annomi
def test_annomi_topics_categorised_one_command_each(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(ANNOMI_SIMPLE)]) == EXIT_OK
    capsys.readouterr()
    assert main(["--home", str(home), "transcripts", "--json"]) == EXIT_OK
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(listed) == 133
    assert {r["metadata"]["mi_quality"] for r in listed} == {"high", "low"}
    topics = Counter(r["metadata"]["topic"] for r in listed)
    started = time.perf_counter()
    for topic in topics:
        assert main(["--home", str(home), "set-category", "--rater", "A", "--where", f"topic={topic}", "Anxiety"]) == EXIT_OK
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    assert sum(int(line.split()[0]) if "transcripts:" in line else 1 for line in out.splitlines()) == 133
    with open_store(home) as store:
        assert {t.category for t in transcript_store.list_transcripts(store)} == {Category.ANXIETY}
        batches = {r.batch for r in curation.decision_log(store) if r.action == "category"}
    assert len(batches) == len(topics)
    print(f"{len(topics)} set-category --where commands for 133 AnnoMI sessions: {elapsed:.2f} s")
