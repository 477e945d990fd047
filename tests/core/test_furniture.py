"""Page furniture: found by what it is and where it falls, removed, the split sentence rejoined."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.importers import ImportOptions, parse_bytes
from core.importers.furniture import strip_furniture
from core.models import ParsedTranscript, Role

TITLE = "Client 4, Session 12: Anxiety and the new job"


def page(body: list[str], number: int, pages: int, *, foot: str = "page-of") -> list[str]:
    """One printed page: the running head, the body, a blank line and the foot."""
    feet = {
        "page-of": [f"Page {number} of {pages}"],
        "printed": ["Printed 03/14/2011 10:42 AM", f"Page {number} of {pages}"],
        "one-line": [f"Printed 03/14/2011 10:42 AM          Page {number} of {pages}"],
        "dash": [f"- {number} -"],
        "bare": [f"{' ' * 30}{number}"],
        "none": [],
    }
    return [TITLE, "", *body, "", *feet[foot]]


def document(pages: list[list[str]], *, form_feed: bool = True) -> str:
    return ("\f" if form_feed else "\n").join("\n".join(p) for p in pages) + "\n"


def parse(text: str, name: str = "session.txt") -> ParsedTranscript:
    [t] = parse_bytes(Path(name), text.encode("utf-8"), options=ImportOptions())
    return t


def three_pages(foot: str, *, form_feed: bool = True) -> str:
    bodies = [
        ["THERAPIST: What brought you in this week? You mentioned that", "the new job has been"],
        ["hard on you, and that the mornings are", "the worst part.", "CLIENT: Yes. Mornings, mostly."],
        ["THERAPIST: Okay.", "CLIENT: And the commute."],
    ]
    return document([page(b, i + 1, 3, foot=foot) for i, b in enumerate(bodies)], form_feed=form_feed)


@pytest.mark.parametrize("foot", ["page-of", "printed", "one-line", "dash", "bare"])
@pytest.mark.parametrize("form_feed", [True, False], ids=["form-feed", "no-form-feed"])
def test_furniture_mid_sentence_goes_and_the_sentence_joins_up(foot: str, form_feed: bool) -> None:
    t = parse(three_pages(foot, form_feed=form_feed))
    assert [(u.role, u.text) for u in t.turns] == [
        (Role.THERAPIST, "What brought you in this week? You mentioned that the new job has been "
                         "hard on you, and that the mornings are the worst part."),
        (Role.CLIENT, "Yes. Mornings, mostly."),
        (Role.THERAPIST, "Okay."),
        (Role.CLIENT, "And the commute."),
    ]
    # The title was never declared, so the running head names the session.
    assert t.title == TITLE
    lines_per_page = {"page-of": 1, "printed": 2, "one-line": 1, "dash": 1, "bare": 1}[foot]
    assert t.furniture_lines == 3 * (1 + lines_per_page)


def test_the_raw_text_keeps_the_furniture_as_imported() -> None:
    t = parse(three_pages("printed"))
    first = t.turns[0]
    assert "Printed 03/14/2011 10:42 AM" in first.raw_text
    assert "Page 1 of 3" in first.raw_text and TITLE in first.raw_text
    assert "Page" not in first.text and "Printed" not in first.text


def test_a_running_head_that_looks_like_a_speaker_line_is_no_turn() -> None:
    head = "SESSION 12: ANXIETY"
    pages = [
        [head, "THERAPIST: You said the mornings", "", "Page 1 of 2"],
        [head, "are hard.", "CLIENT: They are.", "", "Page 2 of 2"],
    ]
    t = parse(document(pages))
    assert [(u.speaker, u.text) for u in t.turns] == [
        ("THERAPIST", "You said the mornings are hard."), ("CLIENT", "They are.")
    ]
    assert t.unknown_labels == []


def test_an_often_said_line_is_speech_not_a_running_head() -> None:
    # Labels on their own line: the therapist's "Okay." stands alone on many lines, some
    # of them next to a page break by chance.
    body = []
    for n in range(60):
        body += ["THERAPIST:", "Okay.", "CLIENT:", f"Then I went to the shop number {n} and came back home again."]
    lines_per_page = 37
    chunks = [body[i : i + lines_per_page] for i in range(0, len(body), lines_per_page)]
    text = document([page(c, i + 1, len(chunks), foot="dash") for i, c in enumerate(chunks)])
    t = parse(text)
    therapist = [u.text for u in t.turns if u.role is Role.THERAPIST]
    assert therapist == ["Okay."] * 60
    assert t.furniture_lines == 2 * len(chunks)


def test_a_year_alone_on_a_line_is_judged_by_where_it_falls() -> None:
    said = ["CLIENT: It started in", "2011", "when I moved to the city for the job.", "THERAPIST: I see."]
    t = parse(document([page(said, 1, 2, foot="page-of"), page(["CLIENT: Yes."], 2, 2)]))
    assert t.turns[0].text == "It started in 2011 when I moved to the city for the job."
    # The same year as a page's last line, right above the page foot, is a page number.
    text = "\n".join([TITLE, "CLIENT: It started long ago.", "", "2011", "\f" + TITLE, "CLIENT: Then.", "2012"])
    assert [u.text for u in parse(text).turns] == ["It started long ago. Then."]


def test_page_numbers_in_a_run_are_removed_without_other_furniture() -> None:
    lines = []
    for n in range(1, 5):
        lines += [f"CLIENT: Line {n}{i} of my story goes on for a while here." for i in range(15)]
        lines += ["", f"   {n}", ""]
    t = parse("\n".join(lines))
    assert all(not u.text.endswith(tuple("1234")) for u in t.turns)
    assert t.furniture_lines == 4


def test_a_running_head_without_any_stamp_repeats_once_a_page() -> None:
    body = [f"CLIENT: This is line {n} of what I said, and it is not a heading." for n in range(120)]
    chunks = [body[i : i + 40] for i in range(0, 120, 40)]
    text = "\n".join("\n".join(["Intake interview, Riverside clinic", "", *c, ""]) for c in chunks)
    t = parse(text)
    assert t.furniture_lines == 3
    assert all("Riverside" not in u.text for u in t.turns)


def test_protected_and_plain_text_is_untouched() -> None:
    text = "THERAPIST: Hello.\nCLIENT: Hi.\n"
    stripped = strip_furniture(text)
    assert stripped.text == text and stripped.removed == 0
    assert stripped.original_offset(5) == 5


def test_offsets_map_back_to_the_text_as_imported() -> None:
    text = "A one\nPage 1 of 2\n\fB two\nPage 2 of 2\n"
    stripped = strip_furniture(text)
    assert stripped.text == "A one\nB two"
    assert stripped.removed == 2
    at = stripped.text.index("B")
    assert stripped.original[stripped.original_offset(at)] == "B"
    assert stripped.removed_between(0, stripped.original_offset(at)) == 1



def test_a_page_of_furniture_alone_keeps_nothing_and_its_end_maps_to_the_end() -> None:
    stripped = strip_furniture("Page 1 of 2\n\fPage 2 of 2\n")
    assert (stripped.text, stripped.removed) == ("", 2)
    assert stripped.original_offset(0) == len(stripped.original)

def test_every_session_of_a_file_counts_its_own_furniture() -> None:
    sessions = []
    for n, when in ((1, "the week?"), (2, "your weekend?")):
        sessions.append(
            "\n".join([f"Title: Week {n}", "BEGIN TRANSCRIPT:", "THERAPIST: How was", "", f"Page {n} of 9",
                       "Printed 03/14/2011 10:42 AM", "", when, "CLIENT: Fine.", "END TRANSCRIPT"])
        )
    first, second = parse_bytes(Path("two.txt"), "\n".join(sessions).encode(), options=ImportOptions())
    assert [u.text for u in first.turns] == ["How was the week?", "Fine."]
    assert [u.text for u in second.turns] == ["How was your weekend?", "Fine."]
    assert (first.furniture_lines, second.furniture_lines) == (2, 2)


def test_import_summary_line_reports_the_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli import main

    path = tmp_path / "pdf export.txt"
    path.write_text(three_pages("printed"), encoding="utf-8")
    assert main(["--home", str(tmp_path / "ws"), "import", str(path)]) == 0
    assert f"{path}: imported 1 transcript; 9 page furniture lines removed" in capsys.readouterr().out


def test_a_declared_title_on_a_line_of_its_own_is_a_running_head() -> None:
    doc = "CLIENT: one\nSmith session 4\n\nCLIENT: two\nSmith session 4\n"
    stripped = strip_furniture(doc, title="Smith session 4")
    # the blank line after a removed head goes with it (a page break is not a paragraph)
    assert stripped.text == "CLIENT: one\nCLIENT: two"
    assert stripped.removed == 2


def test_heads_numbered_by_page_repeat_with_their_digits_folded() -> None:
    doc = "\n".join(f"Smith - confidential - {n}\nPage {n} of 3\nCLIENT: part {n}" for n in (1, 2, 3))
    def speaker(line: str) -> bool:  # what the text importer protects: known speakers' lines
        return line.startswith("CLIENT:")

    out = strip_furniture(doc, protect=speaker).text
    assert out.split("\n") == ["CLIENT: part 1", "CLIENT: part 2", "CLIENT: part 3"]
    no_pages = "CLIENT: I said\nI said 3 things\nI said 3 things\nI said 3 things"
    assert strip_furniture(no_pages).text == no_pages


def test_a_docx_converted_from_a_pdf_loses_its_furniture_too(tmp_path: Path) -> None:
    from docx import Document

    document = Document()
    for line in three_pages("printed").replace("\f", "\n").split("\n"):
        document.add_paragraph(line)
    path = tmp_path / "converted.docx"
    document.save(path)
    [t] = parse_bytes(path, path.read_bytes(), options=ImportOptions())
    assert t.format == "docx"
    assert t.turns[0].text.endswith("the new job has been hard on you, and that the mornings are the worst part.")
    assert t.furniture_lines == 9
