"""AnnoMI CSV (one row per utterance)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from core.errors import ImportFailed
from core.importers import ImportOptions, detect_format, parse_bytes
from core.importers.annomi import client_names_from_title
from core.models import Category, Role
from tests.conftest import ANNOMI_SIMPLE, needs_annomi

SIMPLE_COLUMNS = ["transcript_id", "mi_quality", "video_title", "video_url", "topic", "utterance_id",
                  "interlocutor", "timestamp", "utterance_text", "main_therapist_behaviour",
                  "client_talk_type"]


def csv_bytes(rows: list[dict], columns: list[str] = SIMPLE_COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue().encode("utf-8")


def row(tid: int, uid: int, who: str, text: str, title: str = 'Brief intervention: "Barbara"', **extra) -> dict:
    return {"transcript_id": tid, "utterance_id": uid, "interlocutor": who, "utterance_text": text,
            "video_title": title, "mi_quality": "high", "topic": "reducing alcohol consumption",
            "video_url": f"https://example.org/{tid}", "timestamp": f"00:00:{uid:02d}", **extra}


ROWS = [
    row(7, 0, "therapist", "Thanks for coming in. [laughs]"),
    row(7, 2, "therapist", "What brings you here?"),  # out of order on purpose
    row(7, 1, "client", "Sure."),
    row(9, 0, "therapist", "Hello.", title="Ken interviews Daryl", mi_quality="low", topic="smoking cessation"),
    row(9, 1, "client", "Hi. [unintelligible 00:00:03]", title="Ken interviews Daryl"),
    row(9, 2, "client", "I came because of my doctor.", title="Ken interviews Daryl"),
]


def test_sniffed_by_its_columns() -> None:
    assert detect_format(Path("anything.csv"), csv_bytes(ROWS)) == "annomi"
    # Any other CSV goes to the mapped-CSV importer, which asks for a column mapping.
    assert detect_format(Path("other.csv"), b"name,text\nA,THERAPIST: hi\n") == "csv"
    assert detect_format(Path("other.txt"), b"THERAPIST: hi\nCLIENT: hello\n") == "text"


def test_one_transcript_per_id_in_utterance_order() -> None:
    first, second = parse_bytes(Path("a.csv"), csv_bytes(ROWS))
    assert first.title == 'Brief intervention: "Barbara"'
    assert first.format == "annomi"
    assert first.client_key == "annomi:7"
    assert first.client_names == ["Barbara"]
    assert first.category is Category.OTHER
    assert first.metadata == {"annomi_transcript_id": 7, "mi_quality": "high",
                              "topic": "reducing alcohol consumption", "video_url": "https://example.org/7"}
    assert [(u.role, u.speaker, u.text) for u in first.turns] == [
        (Role.THERAPIST, "therapist", "Thanks for coming in."),
        (Role.CLIENT, "client", "Sure."),
        (Role.THERAPIST, "therapist", "What brings you here?"),
    ]
    assert first.turns[0].raw_text == "Thanks for coming in. [laughs]"
    # consecutive client utterances merge into one turn
    assert [(u.role, u.text) for u in second.turns] == [
        (Role.THERAPIST, "Hello."), (Role.CLIENT, "Hi. I came because of my doctor.")
    ]
    assert second.client_names == []  # "Ken interviews Daryl": who is the client is not said
    assert second.metadata["mi_quality"] == "low"


def test_forced_category() -> None:
    for t in parse_bytes(Path("a.csv"), csv_bytes(ROWS), options=ImportOptions(category=Category.ANGER)):
        assert t.category is Category.ANGER


def test_full_csv_repeats_per_annotator_are_deduplicated() -> None:
    columns = [*SIMPLE_COLUMNS, "annotator_id"]
    rows = [{**r, "annotator_id": a} for r in ROWS for a in (1, 2, 3)]
    assert parse_bytes(Path("full.csv"), csv_bytes(rows, columns)) == parse_bytes(
        Path("simple.csv"), csv_bytes(ROWS)
    )


@pytest.mark.parametrize(
    ("title", "names"),
    [('NEW VIDEO: Brief intervention: "Barbara"', ["Barbara"]),
     ('Agenda setting conversation with "Sal" 2', ["Sal"]),
     ("Motivational interviewing: Ken interviews Daryl", []),
     ('"Sal" and "Ken"', []),
     ('Talking about "Change Talk" skills', ["Change Talk"]),
     ("", [])],
)
def test_client_names_from_title_are_conservative(title: str, names: list[str]) -> None:
    assert client_names_from_title(title) == names


def test_unknown_interlocutor_is_other_and_reported() -> None:
    [t] = parse_bytes(Path("a.csv"), csv_bytes([row(1, 0, "therapist", "Hi."), row(1, 1, "narrator", "Later.")]))
    assert [u.role for u in t.turns] == [Role.THERAPIST, Role.OTHER]
    assert t.unknown_labels == ["narrator"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"transcript_id,utterance_id,interlocutor\n1,0,client\n", "line 1: missing AnnoMI column(s) utterance_text"),
        (csv_bytes([row(1, 0, "client", "Hi."), row("x", 1, "client", "Yo.")]), "line 3: transcript_id and utterance_id"),
        (csv_bytes([row(1, 0, "client", "Hi.")]) + b"1,2,3\n", "line 3: expected 11 fields, found 3"),
        (csv_bytes([row(1, 0, "client", "[laughs]")]), "no speaker turns found"),
    ],
    ids=["missing-column", "bad-id", "ragged", "only-noise"],
)
def test_bad_csv_is_one_clear_line(data: bytes, reason: str) -> None:
    with pytest.raises(ImportFailed) as err:
        parse_bytes(Path("bad.csv"), data, format="annomi")
    assert reason in err.value.reason
    assert err.value.path == "bad.csv" and "\n" not in str(err.value)


@needs_annomi
def test_real_full_csv_gives_the_same_sessions_as_the_simple_one() -> None:
    full = ANNOMI_SIMPLE.with_name("AnnoMI-full.csv")
    if not full.exists():
        pytest.skip(f"{full} not present")
    simple = parse_bytes(ANNOMI_SIMPLE, ANNOMI_SIMPLE.read_bytes())
    assert len(simple) == 133
    assert parse_bytes(full, full.read_bytes()) == simple
