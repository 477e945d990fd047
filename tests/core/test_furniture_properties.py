"""Page furniture on generated documents, against plain line-by-line references.

Detection works on the whole text with scans in C and keeps offsets only where it must;
these references do the same work one line at a time, the slow and obvious way.
"""

from __future__ import annotations

import re
from itertools import accumulate

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.importers import furniture
from core.importers.furniture import strip_furniture

SPEECH = [
    "THERAPIST: How has the week been?",
    "CLIENT: Long. I barely slept.",
    "and then the 3 of us went home",
    "Okay.",
    "   indented, 2011 or so",
    "Page after page of notes",
    "Printed it out for her",
    "- 4 -",
    "12",
    "the caf\u00e9 \u2014 well, \u0663 times",
    "Retry, generally, exports",
]
BLANKS = ["", "  ", "\t"]


def furniture_lines(page: int, pages: int) -> st.SearchStrategy[list[str]]:
    options = [
        f"Page {page} of {pages}",
        "Printed 03/14/2011 10:42 AM",
        f"- {page} -",
        f"{page}",
        f"Pg. {page}",
        f"Smith, session 4 - page {page}",
        "Smith session 4",
        "",
    ]
    return st.lists(st.sampled_from(options), max_size=4)


@st.composite
def pdf_like(draw: st.DrawFn) -> str:
    """Pages of speech with heads, stamps and page numbers between them, form feeds or not."""
    pages = draw(st.integers(1, 6))
    head = draw(st.sampled_from(["", "Smith session 4", "   Client 4, Session 12 #3"]))
    feed = draw(st.booleans())
    lines = [f"Title: {head.strip()}"] if head and draw(st.booleans()) else []
    for number in range(1, pages + 1):
        if head:
            lines.append(head)
        lines += draw(st.lists(st.sampled_from(SPEECH + BLANKS), max_size=14))
        lines += draw(furniture_lines(number, pages))
        if number < pages and feed:
            lines.append("\f" + lines.pop() if lines and draw(st.booleans()) else "\f")
    return "\n".join(lines)


# A line that starts like a stamp or a page number, tried on each line by itself.
_STARTS_LIKE_A_STAMP = re.compile(
    r"[^\S\n]*(?:\d|[-\u2013\u2014][^\S\n]*\d|[pP](?:[aA][gG][eE]|[gG]|\.|[rR][iI][nN][tT])"
    r"|[dD][aA][tT][eE][^\S\n]+[pP]|[dD][oO][wW][nN][lL]|[rR][eE][tT][rR]|[gG][eE][nN][eE][rR]"
    r"|[eE][xX][pP][oO][rR][tT])"
)

LINE = st.one_of(
    st.sampled_from(SPEECH + BLANKS + ["Page 2 of 9", "Date printed 1/2/2003", "  Downloaded", "\u2014 7"]),
    st.text(st.sampled_from("pPaAgGeE0123456789-\u2013 \t.\u0663"), max_size=8),
)


@given(st.lists(st.tuples(LINE, st.sampled_from(["\n", "\n", "\f", "\n\f"])), max_size=30))
def test_the_lines_that_may_be_stamps_and_the_page_starts_are_those_a_line_by_line_look_finds(
    parts: list[tuple[str, str]],
) -> None:
    doc = "".join(line + end for line, end in parts)
    feeds = [i for i, ch in enumerate(doc) if ch == "\f"]
    text = doc.replace("\f", "\n")
    page_starts: set[int] = set()
    found = furniture._maybe_stamps(text, feeds, page_starts)
    lines = text.split("\n")
    # (the first line is looked at in the first 200 characters of the text)
    assert found == [i for i, line in enumerate(lines) if _STARTS_LIKE_A_STAMP.match(line if i else text[:200])]
    assert page_starts == {text.count("\n", 0, f + 1) for f in feeds}  # the line after each feed


def line_starts(lines: list[str]) -> list[int]:
    return [0, *accumulate(len(line) + 1 for line in lines)][:-1]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(pdf_like())
def test_what_goes_is_the_furniture_and_the_blank_lines_next_to_it_and_the_rest_maps_back(doc: str) -> None:
    out = strip_furniture(doc, title=furniture.declared_title(doc))
    lines = out.original.split("\n")
    starts = line_starts(lines)
    assert out.original == doc.replace("\f", "\n")
    # What was removed: whole lines, counted once each.
    assert set(out._removed_at) <= set(starts)
    removed = {starts.index(at) for at in out._removed_at}
    assert len(removed) == out.removed == out.removed_between(0, len(out.original))
    assert all(lines[i].strip() for i in removed)
    # Each removed line takes the blank lines on either side of it.
    gone = set(removed)
    for i in removed:
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(lines) and j not in removed and not lines[j].strip():
                gone.add(j)
                j += step
    kept = [i for i in range(len(lines)) if i not in gone]
    assert out.text == "\n".join(lines[i] for i in kept)
    # Where each kept line starts, and every character, maps back to the same place.
    clean = 0
    for i in kept:
        if clean < len(out.text):
            assert out.original_offset(clean) == starts[i]
        clean += len(lines[i]) + 1
    assert all(out.original[out.original_offset(k)] == ch for k, ch in enumerate(out.text))
    assert out.original_offset(len(out.text)) == len(out.original)


_ARABIC_INDIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")


@given(pdf_like())
def test_heads_and_feet_written_outside_ascii_are_found_the_same(doc: str) -> None:
    # Digits are looked for with a fast test in ASCII lines and the full one in the rest:
    # "Sm\u00eeth, session \u0664 - page \u0663" must fold to a key like "Smith, session 4 - page 3".
    def widen(line: str) -> str:
        return line.replace("Smith", "Sm\u00eeth").translate(_ARABIC_INDIC) if "Smith" in line else line

    out = strip_furniture(doc, title=furniture.declared_title(doc))
    widened = "\n".join(map(widen, doc.split("\n")))
    again = strip_furniture(widened, title=furniture.declared_title(widened))
    assert again.removed == out.removed
    assert again.heads == [widen(h) for h in out.heads]
