"""Each cleaning rule on its own, then ``clean`` as the ordered pipeline of them."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from core.cleaning import (
    RULES,
    clean,
    normalise_unicode,
    normalise_whitespace,
    strip_bracketed_notes,
    strip_dates,
    strip_page_markers,
    strip_parenthetical_notes,
    strip_timestamps,
)

# normalise_unicode ############################################################


def test_unicode_nfkc_folds_compatibility_forms() -> None:
    # ligature fi, full-width letters and colon, non-breaking space, ellipsis
    assert normalise_unicode("\ufb01ne \uff21\uff22\uff1a\u00a0ok\u2026") == "fine AB: ok..."


@pytest.mark.parametrize(
    "invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066"]
)
def test_unicode_strips_zero_width_and_bidi_characters(invisible: str) -> None:
    assert normalise_unicode(f"Ma{invisible}ya said h{invisible}i") == "Maya said hi"


def test_unicode_strips_controls_but_keeps_tab_and_newline() -> None:
    assert normalise_unicode("a\x00b\x07c\td\ne\x1b") == "abc\td\ne"
    assert normalise_unicode("one\r\ntwo\rthree") == "one\ntwo\nthree"


def test_unicode_leaves_plain_text_alone() -> None:
    text = "I\u2019m fine \u2014 really, caf\u00e9 and na\u00efve."
    assert normalise_unicode(text) == text


# strip_bracketed_notes ########################################################


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Sure. [unintelligible 00:01:33]", "Sure."),
        ("[laughs] Thanks.", " Thanks."),
        ("not that [unintelligible 00:27:23] for you?", "not that for you?"),
        ("a little [inaudible 00:02:46], then", "a little, then"),
        ("we can take [inaudible 00:02:46]-", "we can take-"),
        ("word[pause]word", "word word"),
        ("[00:01:23] Hello", " Hello"),
        ("[clears throat]", ""),
    ],
)
def test_bracketed_notes_are_removed_whole(raw: str, cleaned: str) -> None:
    assert strip_bracketed_notes(raw) == cleaned


def test_nested_bracketed_notes_go_whole() -> None:
    assert strip_bracketed_notes("so [note [nested] more] ok") == "so ok"


def test_bracketed_notes_may_wrap_but_never_span_paragraphs_or_eat_unclosed_brackets() -> None:
    assert strip_bracketed_notes("so [unintelligible\n00:01:33] then") == "so then"
    assert strip_bracketed_notes("keep [this\n\nand] that") == "keep [this\n\nand] that"
    assert strip_bracketed_notes("so [long\npause\nhere] ok") == "so ok"
    assert strip_bracketed_notes("keep [this\n  \nand] that") == "keep [this\n  \nand] that"
    assert strip_bracketed_notes("an [open bracket") == "an [open bracket"


# strip_parenthetical_notes ####################################################


@pytest.mark.parametrize(
    "note",
    ["(crosstalk)", "(laughs)", "(laughs nervously)", "(long pause)", "(00:01:23)",
     "(inaudible 00:01:33)", "(clears throat)", "(both talking at once)", "(door closes)"],
)
def test_parenthetical_non_speech_is_removed(note: str) -> None:
    assert strip_parenthetical_notes(f"I know {note} it is hard.") == "I know it is hard."


def test_parenthetical_note_wrapped_over_a_line_break() -> None:
    assert strip_parenthetical_notes("I know (long\npause) it is.") == "I know it is."


@pytest.mark.parametrize(
    "speech",
    ["(well, sort of)", "(at the same time)", "(my sister)", "(really)", "(and I laughed at him)"],
)
def test_parentheses_that_are_speech_stay(speech: str) -> None:
    text = f"I went {speech} to the gym."
    assert strip_parenthetical_notes(text) == text


# strip_timestamps #############################################################


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("at 00:01:23 we", "at  we"),
        ("then 1:02:03.450 again", "then  again"),
        ("ok 0:05 ok", "ok  ok"),
        ("ok 00:23 ok", "ok  ok"),
        ("before\n1:23\nafter", "before\nafter"),
        ("before\n[12:01]\nafter", "before\nafter"),
        ("a\n00:00:01,000 --> 00:00:02,500\nb", "a\nb"),
    ],
)
def test_timestamps_are_removed(raw: str, cleaned: str) -> None:
    assert strip_timestamps(raw) == cleaned


@pytest.mark.parametrize(
    "speech",
    [
        "Can we meet at 6:15 instead?",  # a clock time said aloud (AnnoMI has these)
        "It's in John 1:23, I think.",  # a verse reference
        "The ratio was 3:1 at best.",
        "From 10:00-12:00, every day.",
    ],
)
def test_bare_short_times_in_running_text_are_kept(speech: str) -> None:
    # The documented decision: an m:ss inside a sentence is ambiguous, so it stays.
    assert strip_timestamps(speech) == speech


@pytest.mark.parametrize("answer", ["6:15", "March 5, 2024", "3 of 12", "Page 2", "03/05/2024"])
def test_a_one_line_utterance_is_speech_even_when_it_looks_like_furniture(answer: str) -> None:
    # "What time?" "6:15": line rules only act on a line among other lines.
    assert clean(answer) == answer
    assert clean(f"I said\n{answer}\nand left") == "I said and left"


# strip_dates ##################################################################


@pytest.mark.parametrize(
    "line",
    [
        "2024-03-05",
        "Date: 5 March 2024",
        "03/05/2024",
        "Tuesday, March 5, 2024 at 10:00",
        "Session date: Mar. 5th, 2024",
        "2024-03-05T10:00:00Z",
    ],
)
def test_date_only_lines_are_removed(line: str) -> None:
    assert strip_dates(f"before\n{line}\nafter") == "before\nafter"


def test_iso_dates_are_removed_inside_text_but_spoken_dates_stay() -> None:
    assert strip_dates("logged 2024-03-05T10:00 by staff") == "logged  by staff"
    spoken = "My court date is March 5, 2024, and I'm scared."
    assert strip_dates(spoken) == spoken
    assert strip_dates("Back on 3/5/2024 I moved out.") == "Back on 3/5/2024 I moved out."


# strip_page_markers ###########################################################


@pytest.mark.parametrize("marker", ["Page 3", "Page 3 of 12", "page 3/12", "3 of 12", "- 3 -", "Pg. 4"])
def test_page_markers_go_with_their_blank_lines(marker: str) -> None:
    assert strip_page_markers(f"I went to the\n\n{marker}\n\nstore") == "I went to the\nstore"


def test_page_words_in_speech_stay() -> None:
    text = "I read page 3 of the booklet.\nIt was 3 of 12 items."
    assert strip_page_markers(text) == text


# normalise_whitespace #########################################################


def test_whitespace_joins_wrapped_lines_and_keeps_paragraphs() -> None:
    assert normalise_whitespace("  one  two\tthree\nfour \n\n\n  five\n") == "one two three four\n\nfive"
    assert normalise_whitespace(" \n\t ") == ""


# clean ########################################################################


def test_rule_order_is_documented_order() -> None:
    assert [name for name, _ in RULES] == [
        "normalise_unicode",
        "strip_bracketed_notes",
        "strip_parenthetical_notes",
        "strip_timestamps",
        "strip_dates",
        "strip_page_markers",
        "normalise_whitespace",
    ]


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Mm-hmm.", "Mm-hmm."),
        ("  Okay.  ", "Okay."),
        ("Yeah. [chuckles]", "Yeah."),
        ("[laughs]", ""),
        ("Well, I-- [sighs] I'm not sure.", "Well, I-- I'm not sure."),
        ("So\u200b what (long pause) now?", "So what now?"),
        ("I woke at 4:10\nand\n\nPage 2 of 9\n\nlay there.", "I woke at 4:10 and lay there."),
        ("\ufeff[00:00:13] Thanks for coming.", "Thanks for coming."),
    ],
)
def test_clean_examples(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


def _all_rules(text: str) -> str:
    for _name, rule in RULES:
        text = rule(text)
    return text


_noisy_text = st.lists(
    st.one_of(
        st.text(max_size=12),
        st.sampled_from(
            ["[laughs]", "(crosstalk)", "00:01:23", "1:23", "0:05", "2024-03-05", "Page 2 of 3",
             "\n", "\n\n", "  ", "\t", "\u200b", "\ufb01", "March 5, 2024", "- 4 -", "(", "[", "]",
             ")", "-", ":", "Date: ", "\u00a0", "\r\n", "word", "Okay."]
        ),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_noisy_text)
@example(" " * 120 + "1 of 2")
@example("x" * 70 + "\u00a0" + "2024-01-02")
def test_clean_equals_the_rules_applied_in_order(text: str) -> None:
    # clean() skips rules that cannot apply; the shortcut must never change the result.
    assert clean(text) == _all_rules(text)


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        depth = depth + 1 if ch == "[" else max(0, depth - 1) if ch == "]" else depth
        deepest = max(deepest, depth)
    return deepest


@settings(max_examples=300, deadline=None)
@given(_noisy_text)
@example("[[]]")
@example("[[a] b [c [d]]] e")
def test_clean_output_is_tidy(text: str) -> None:
    assume(_bracket_depth(text) <= 8)  # deeper nesting is left alone (see the rule)
    out = clean(text)
    assert out == out.strip()
    assert "  " not in out and "\t" not in out and "\n\n\n" not in out
    assert not re.search("[\u200b-\u200f\u2060\ufeff\x00-\x08]", out)
    assert not re.search(r"\[[^\[\]\n]*\]", out)
