"""Plain-text speaker-labelled transcripts."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from core.errors import ImportFailed
from core.importers import ImportOptions, detect_format, parse_bytes
from core.models import Category, ParsedTranscript, Role

CPT_STYLE = """\
Title: Session 4 with Maya
Client: Maya Chen
Symptoms: anxious mood; insomnia
Session: 4
Date: March 5, 2024
Note: fictional test transcript.
BEGIN TRANSCRIPT:
[00:00:05] THERAPIST: How has the week been, Maya?
CLIENT: Long. [sighs] I barely
slept at all.

I kept thinking about work.
THERAPIST (00:01:23): Mm-hmm.
CLIENT: Right.
DR. LEE: Hello, I'm the supervising doctor.
NURSE: The room is ready.
END TRANSCRIPT
Copyright line that is not part of the session.
"""


def parse(text: str | bytes, name: str = "session.txt", **options) -> list[ParsedTranscript]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_bytes(Path(name), data, options=ImportOptions(**options))


def one(text: str | bytes, **options) -> ParsedTranscript:
    [transcript] = parse(text, **options)
    return transcript


def test_cpt_style_header_and_turns() -> None:
    t = one(CPT_STYLE)
    assert t.format == "text"
    assert t.title == "Session 4 with Maya"
    assert t.client_names == ["Maya Chen"]
    assert t.client_key == "name:maya chen"
    assert t.category is Category.ANXIETY
    assert t.metadata["category_raw"] == "anxious mood; insomnia"
    assert t.metadata["session"] == "4"
    assert t.metadata["date"] == "March 5, 2024"
    assert [(u.role, u.speaker) for u in t.turns] == [
        (Role.THERAPIST, "THERAPIST"),
        (Role.CLIENT, "CLIENT"),
        (Role.THERAPIST, "THERAPIST"),
        (Role.CLIENT, "CLIENT"),
        (Role.THERAPIST, "DR. LEE"),
        (Role.OTHER, "NURSE"),
    ]
    assert t.unknown_labels == ["NURSE"]
    # wrapped lines join, a paragraph stays a paragraph, noise goes, raw keeps it all
    assert t.turns[1].text == "Long. I barely slept at all.\n\nI kept thinking about work."
    assert t.turns[1].raw_text == "Long. [sighs] I barely\nslept at all.\n\nI kept thinking about work."
    assert t.turns[0].text == "How has the week been, Maya?"
    assert t.turns[2].text == "Mm-hmm."
    assert all("Copyright" not in u.raw_text for u in t.turns)


def test_only_text_between_markers_is_read() -> None:
    t = one("CLIENT: before the marker\nBEGIN TRANSCRIPT:\nTHERAPIST: inside\nEND TRANSCRIPT\nCLIENT: after\n")
    assert [u.text for u in t.turns] == ["inside"]


@pytest.mark.parametrize(
    ("header", "category"),
    [("Category: Depression", Category.DEPRESSION), ("Symptoms: fatigue, low appetite", Category.FATIGUE),
     ("Category: anger", Category.ANGER), ("Symptoms: Obsessive thoughts", Category.OTHER)],
)
def test_category_header(header: str, category: Category) -> None:
    t = one(f"{header}\nBEGIN TRANSCRIPT:\nTHERAPIST: Hello.\nEND TRANSCRIPT\n")
    assert t.category is category
    assert t.metadata["category_raw"] == header.split(": ", 1)[1]


def test_forced_category_wins_over_the_header() -> None:
    t = one("Category: Depression\nBEGIN TRANSCRIPT:\nTHERAPIST: Hello.\nEND TRANSCRIPT\n",
            category=Category.SADNESS)
    assert t.category is Category.SADNESS


def test_several_client_names() -> None:
    t = one("Client: Ana and Luis; Kim\nBEGIN TRANSCRIPT:\nTHERAPIST: Hi all.\nEND TRANSCRIPT\n")
    assert t.client_names == ["Ana", "Luis", "Kim"]


def test_without_markers_the_leading_key_lines_are_the_header() -> None:
    t = one(
        "Title: Intake\nClient: Sam\nCategory: Frustration\n\n"
        "THERAPIST: What brings you in?\nCLIENT: Work.\n"
    )
    assert (t.title, t.client_names, t.category) == ("Intake", ["Sam"], Category.FRUSTRATION)
    assert [(u.role, u.text) for u in t.turns] == [
        (Role.THERAPIST, "What brings you in?"), (Role.CLIENT, "Work.")
    ]


def test_without_header_the_title_is_the_first_line_or_the_file_name() -> None:
    assert one("A conversation\nTHERAPIST: Hi.\n").title == "A conversation"
    [t] = parse("THERAPIST: Hi.\nCLIENT: Hello.\n", name="folder/visit-2.txt")
    assert t.title == "visit-2"


def test_mixed_case_labels_count_only_when_known() -> None:
    t = one("Therapist: Hello.\nClient: Hi.\nSo what I mean is: nothing much\n")
    assert [(u.role, u.text) for u in t.turns] == [
        (Role.THERAPIST, "Hello."), (Role.CLIENT, "Hi. So what I mean is: nothing much")
    ]


def test_speaker_map_option_adds_labels() -> None:
    t = one("INTERVIEWEE: I am fine.\nSpeaker 1: Good.\n",
            speaker_map={"INTERVIEWEE": Role.CLIENT, "Speaker 1": Role.THERAPIST})
    assert [(u.role, u.speaker) for u in t.turns] == [
        (Role.CLIENT, "INTERVIEWEE"), (Role.THERAPIST, "Speaker 1")
    ]
    assert t.unknown_labels == []


def test_honorific_and_numbered_labels() -> None:
    t = one("DOCTOR PATEL: Hi.\nCLIENT 2: Hello.\nPROF. KIM: Welcome.\nMR. JONES: Thanks.\n")
    assert [u.role for u in t.turns] == [Role.THERAPIST, Role.CLIENT, Role.THERAPIST, Role.OTHER]
    assert t.unknown_labels == ["MR. JONES"]


def test_timestamps_around_labels_are_not_speech_but_times_in_speech_stay() -> None:
    t = one("00:01:02 THERAPIST: When?\n1:23 - CLIENT: At 6:15, I think.\n[00:02] THERAPIST: Okay.\n")
    assert [(u.role, u.text) for u in t.turns] == [
        (Role.THERAPIST, "When?"), (Role.CLIENT, "At 6:15, I think."), (Role.THERAPIST, "Okay.")
    ]


def test_page_headers_footers_and_repeated_title_are_removed() -> None:
    body = "\n".join(
        [
            "Title: Couples session",
            "BEGIN TRANSCRIPT:",
            "THERAPIST: We were talking about",
            "",
            "Page 1 of 3",
            "Couples session",
            "",
            "the holidays.",
            "CLIENT: Yes.",
            "Page 2 of 3",
            "Couples session",
            "THERAPIST: Go on.",
            "- 3 -",
            "END TRANSCRIPT",
        ]
    )
    t = one(body)
    assert [u.text for u in t.turns] == ["We were talking about the holidays.", "Yes.", "Go on."]


def test_consecutive_turns_of_one_speaker_merge_and_empty_turns_drop() -> None:
    t = one("THERAPIST: First.\nCLIENT: [laughs]\nTHERAPIST: Second.\nTHERAPIST: Third.\nCLIENT: Ok.\n")
    assert [(u.role, u.text) for u in t.turns] == [
        (Role.THERAPIST, "First. Second. Third."), (Role.CLIENT, "Ok.")
    ]
    assert t.turns[0].raw_text == "First.\nSecond.\nThird."


def test_several_marked_sessions_in_one_file() -> None:
    text = (
        "Title: Week 1\nClient: Jo\nBEGIN TRANSCRIPT:\nTHERAPIST: One.\nEND TRANSCRIPT\n"
        "Title: Week 2\nBEGIN TRANSCRIPT:\nTHERAPIST: Two.\nEND TRANSCRIPT\n"
    )
    first, second = parse(text)
    assert (first.title, second.title) == ("Week 1", "Week 2")
    assert second.client_names == ["Jo"]  # inherited from the file's first header
    assert [u.text for u in second.turns] == ["Two."]


SAMPLE = "Client: Zoë\nBEGIN TRANSCRIPT:\nTHERAPIST: Café at 9? It’s “fine” — Zoë.\nEND TRANSCRIPT\n"


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: codecs.BOM_UTF8 + s.encode("utf-8"),
        lambda s: s.encode("utf-16"),  # with BOM
        lambda s: codecs.BOM_UTF16_BE + s.encode("utf-16-be"),
        lambda s: s.encode("utf-16-le"),  # no BOM: sniffed
        lambda s: s.encode("utf-16-be"),  # no BOM: sniffed
        lambda s: s.encode("utf-32"),
        lambda s: s.encode("cp1252"),
        lambda s: s.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16be-bom", "utf16le", "utf16be", "utf32", "cp1252", "crlf"],
)
def test_encodings(encode) -> None:
    data = encode(SAMPLE)
    assert detect_format(Path("x.txt"), data) == "text"
    t = one(data)
    assert t.client_names == ["Zoë"]
    assert t.turns[0].raw_text == "Café at 9? It’s “fine” — Zoë."


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"THERAPIST: hi\x00\x00\x01\x02 there" * 10, "binary file, not a transcript"),
        (bytes(range(256)) * 4, "binary file, not a transcript"),
        (b"%PDF-1.7\n...", "a PDF file"),
        (b"THERAPIST: caf\xe9 \x81\x8d\x90 ok", "cannot be decoded"),
        (b"\xff\xfe" + "THERAPIST: hi".encode("utf-16-le") + b"\x00\xd8", "cannot be decoded as UTF-16"),
        (b"Just some notes with no speakers.\nAnother line.\n", "no speaker turns found"),
        (b"BEGIN TRANSCRIPT:\nEND TRANSCRIPT\n", "no speaker turns found"),
        (b"THERAPIST: [laughs]\nCLIENT: (crosstalk)\n", "no speaker turns found"),
        (b"   \n\t\n", "the file is empty"),
        (codecs.BOM_UTF16_LE + "  \n".encode("utf-16-le"), "the file is empty"),
    ],
    ids=["nul", "all-bytes", "pdf", "undecodable", "bad-utf16", "no-turns", "empty-markers",
         "only-noise", "blank", "blank-utf16"],
)
def test_bad_input_is_one_clear_line(data: bytes, reason: str) -> None:
    with pytest.raises(ImportFailed) as err:
        parse_bytes(Path("bad.txt"), data, format="text")
    assert err.value.path == "bad.txt"
    assert reason in err.value.reason
    assert "\n" not in str(err.value)


def test_demo_transcripts_are_fictional_and_complete() -> None:
    from core.resources import demo_transcripts

    paths = demo_transcripts()
    categories = set()
    for path in paths:
        data = path.read_bytes()
        assert b"fictional demonstration transcript written for Attune" in data.split(b"BEGIN TRANSCRIPT")[0]
        [t] = parse_bytes(path, data)
        categories.add(t.category)
        assert t.client_names, path
        name = t.client_names[0]
        therapist = [u for u in t.turns if u.role is Role.THERAPIST]
        assert sum(len(u.text.split()) >= 50 for u in therapist) >= 3, path
        assert any(len(u.text.split()) <= 2 for u in t.turns), path  # "Mm-hmm.", "Okay."
        assert any(name in u.text for u in therapist), path
        assert any(u.raw_text != u.text for u in t.turns), path  # some noise was cleaned
        assert t.unknown_labels == []
    assert categories >= {Category.ANXIETY, Category.DEPRESSION, Category.FATIGUE,
                          Category.FRUSTRATION, Category.SADNESS, Category.ANGER}
