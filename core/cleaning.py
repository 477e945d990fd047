"""Cleaning transcript text: small named rules, each a pure ``str -> str`` function.

``clean(text)`` applies ``RULES`` in this order, and the order matters:

1. ``normalise_unicode``  – NFKC, then drop zero-width, bidi and control
   characters, so every later rule sees plain ``:`` and digits and no hidden
   character can split a word (or hide a name from a later de-identification
   pass).
2. ``strip_bracketed_notes`` – every ``[...]`` span not crossing a blank line:
   ``[laughs]``, ``[inaudible 00:01:33]``, ``[00:01:23]``. Square brackets are the
   transcriber's voice, never the speaker's, so the whole span goes,
   timestamp and all.
3. ``strip_parenthetical_notes`` – ``(crosstalk)``, ``(laughs nervously)``,
   ``(00:01:23)``; only when *every* word inside is non-speech vocabulary, a
   timestamp or a date. Parentheses are also ordinary punctuation in speech
   ("I went (well, sort of) to the gym"), which must survive.
4. ``strip_timestamps`` – bare ``hh:mm:ss`` (with optional ``.mmm``) anywhere,
   ``0:23``/``00:23`` (a zero hour is never a clock time anyone says), and any
   timestamp or ``a --> b`` cue that is alone on its line.
   **Decision:** a bare ``m:ss``/``h:mm`` inside running text is kept. It is
   ambiguous ("John 1:23", "come at 6:15") and AnnoMI's speech contains clock
   times like "6:15" and "11:00"; deleting real words is worse than keeping a
   stray timestamp. Importers additionally strip a timestamp written before
   or after a speaker label (``00:01 THERAPIST:``, ``CLIENT (1:23):``), where
   it cannot be speech. "Alone on its line" means a line among others: an
   utterance that is nothing but "6:15" is an answer, and stays.
5. ``strip_dates`` – ISO dates/datetimes (``2024-03-05``, ``2024-03-05T10:00``)
   anywhere, and a line holding nothing but a date (``Date: 5 March 2024``,
   ``03/05/2024``, ``Tuesday, March 5, 2024 at 10:00``) among other lines.
   Dates said in a sentence ("on March 5th"), or as a whole one-line answer,
   are speech and stay.
6. ``strip_page_markers`` – lines like ``Page 3``, ``Page 3 of 12``, ``3 of 12``,
   ``- 3 -`` among other lines, together with the blank lines around them, so
   a turn broken by a page joins up again.
7. ``normalise_whitespace`` – runs of spaces/tabs/wrapped lines become one
   space; a blank line (a paragraph break) is kept as one blank line.

Page furniture that needs the whole document to be recognised (running heads,
page stamps found by where they fall) is taken out before turns are split, by
``core/importers/furniture.py``; ``strip_page_markers`` is the per-turn rule.

Every rule is cheap when it has nothing to do (a substring test before any
regex), because the import benchmark cleans about a million utterances.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "RULES",
    "clean",
    "normalise_unicode",
    "normalise_whitespace",
    "strip_bracketed_notes",
    "strip_dates",
    "strip_page_markers",
    "strip_parenthetical_notes",
    "strip_timestamps",
]

_H = r"[^\S\n]"  # horizontal whitespace

# 1. Unicode ###################################################################

# Zero-width and invisible formatting characters, C0/C1 controls except tab and
# newline, and lone surrogates (only JSON can produce those; SQLite cannot store
# them).
_INVISIBLE = dict.fromkeys(
    [
        *range(0x00, 0x09),
        0x0B,
        0x0C,
        *range(0x0E, 0x20),
        *range(0x7F, 0xA0),
        0x00AD,  # soft hyphen
        0x034F,  # combining grapheme joiner
        0x061C,  # arabic letter mark
        0x180E,  # mongolian vowel separator
        *range(0x200B, 0x2010),  # zero-width space/joiners, LRM/RLM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2070),  # word joiner, invisible operators, bidi isolates
        0xFEFF,  # BOM / zero-width no-break space
        *range(0xD800, 0xE000),
    ]
)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NON_ASCII_JUNK = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def normalise_unicode(text: str) -> str:
    """NFKC, then remove zero-width, bidi-control and control characters (tab and newline stay).

    ``\\r`` is treated as a line break, the way every editor shows it.
    """
    if text.isascii():
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if _ASCII_CONTROL.search(text) is None:
            return text
        return text.translate(_INVISIBLE)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _NON_ASCII_JUNK.search(text) is not None:
        text = text.translate(_INVISIBLE)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
        # NFKC can compose new invisibles only in theory; one more pass is cheap insurance.
        if _NON_ASCII_JUNK.search(text) is not None:
            text = text.translate(_INVISIBLE)
    return text


# Shared pieces ################################################################

_DIGIT = re.compile(r"\d")
_TS = r"\d{1,2}(?::\d{2}){1,2}(?:[.,]\d{1,3})?"  # 1:23, 01:23, 00:01:23, 00:01:23.456
_TS_TOKEN = re.compile(rf"{_TS}(?:{_H}*[ap]\.?m\.?)?", re.I)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|urday|sday)?\.?"
_DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}"
    rf"|\d{{4}}[/.-]\d{{1,2}}[/.-]\d{{1,2}}(?:[T ]{_TS}(?:Z|[+-]\d{{2}}:?\d{{2}})?)?"
    rf"|{_MONTH}{_H}+\d{{1,2}}(?:st|nd|rd|th)?,?{_H}+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?{_H}+{_MONTH},?{_H}+\d{{4}})"
)
_DATE_TOKEN = re.compile(
    rf"(?:{_WEEKDAY},?{_H}+)?{_DATE}(?:,?{_H}+(?:at{_H}+)?{_TS}(?:{_H}*[ap]\.?m\.?)?)?", re.I
)

# 2. Square brackets ###########################################################

# Every pattern that eats the whitespace before a match starts only at the first
# character of that whitespace (the lookbehind): retrying at each space of a long run
# would make a pathological file quadratic.
# A note may wrap over lines of a hard-wrapped file, but never spans a blank line.
_BRACKETED = re.compile(rf"(?<!{_H}){_H}*+\[[^\[\]\n]*+(?:\n(?!{_H}*\n)[^\[\]\n]*+)*+\]")
_MAX_NESTING = 8
# After a removed note, no space is needed before these (they attach to the previous word).
_ATTACHES_LEFT = frozenset(",.;:?!)]}\"'-\u2014\u2013\u2026\u2019\u201d")


def _gap(match: re.Match[str]) -> str:
    # "word [x]word" still needs a space between the words; "word [x], more" must not
    # become "word , more".
    end = match.end()
    text = match.string
    if match.start() == 0 or end == len(text):
        return ""
    after = text[end]
    return "" if after.isspace() or after in _ATTACHES_LEFT else " "


def strip_bracketed_notes(text: str) -> str:
    """Remove every ``[...]`` span (``[laughs]``, ``[unintelligible 00:01:33]``), also one
    wrapped over line breaks; never one spanning a blank line."""
    if "[" not in text:
        return text
    # Each pass removes the innermost notes of "[note [nested]]"; the cap keeps a
    # pathological file of thousands of nested brackets linear.
    for _ in range(_MAX_NESTING):
        cleaned = _BRACKETED.sub(_gap, text)
        if cleaned == text or "[" not in cleaned:
            return cleaned
        text = cleaned
    return text


# 3. Parentheses ###############################################################

_PARENTHETICAL = re.compile(rf"(?<!{_H}){_H}*+\(([^()\n]{{1,80}}(?:\n[^()\n]{{0,80}})?)\)")
# Words that make a parenthesis a stage direction. Each entry must be a sound or
# an action a transcriber notes; ordinary words go in _NOTE_MODIFIERS, which
# alone never make a note ("(at the same time)" is speech).
_NOTE_WORDS = frozenset(
    """
    laugh laughs laughing laughter laughed chuckle chuckles chuckling chuckled giggle giggles
    giggling sigh sighs sighing sighed cough coughs coughing coughed crosstalk cross-talk
    overlapping overtalk inaudible unintelligible indiscernible unclear garbled mumbles
    mumbling mumbled pause pauses pausing paused silence silent crying cries cry sobbing sobs
    sobbed tearful tears weeping sniffles sniffling sniffs clears clearing throat nods nodding
    nodded shrugs shrugging shrugged smiles smiling yawns yawning exhales exhaling inhales
    inhaling scoffs scoffing groans groaning gasps gasping whispers whispering whispered
    sneezes sneezing applause beep beeps knock knocking phone ringing rings interruption
    interrupted crosstalking noise music static recording tape foreign language
    unintelligibly inaudibly simultaneous simultaneously talking speaking closes opens slams
    """.split()
)
_NOTE_MODIFIERS = frozenset(
    """
    a an the long short brief deep heavy loud soft small big both at once same time
    background door of end ends begins begin side and in with speech
    voice break breaks resumes stops audio video
    """.split()
)


def _is_note(inner: str) -> bool:
    if _TS_TOKEN.fullmatch(inner.strip()) or _DATE_TOKEN.fullmatch(inner.strip()):
        return True
    core = False
    for raw in inner.lower().replace(",", " ").replace(";", " ").split():
        word = raw.strip(".:!?'\"")
        if word in _NOTE_WORDS or _TS_TOKEN.fullmatch(word):
            core = True
        elif not (word in _NOTE_MODIFIERS or (word.endswith("ly") and len(word) > 3) or not word):
            return False
    return core


def _drop_note(match: re.Match[str]) -> str:
    return _gap(match) if _is_note(match.group(1)) else match.group(0)


def strip_parenthetical_notes(text: str) -> str:
    """Remove ``(crosstalk)``, ``(long pause)``, ``(00:01:23)``; keep parentheses that are speech."""
    if "(" not in text:
        return text
    return _PARENTHETICAL.sub(_drop_note, text)


# 4. Timestamps ################################################################

_HMS = re.compile(r"(?<![\w:.,/])\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,3})?(?![\w:]|[.,]\d)")
_ZERO_HOUR = re.compile(r"(?<![\w:.,/])0{1,2}:\d{2}(?:[.,]\d{1,3})?(?![\w:]|[.,]\d)")
_TIMESTAMP_LINE = re.compile(
    rf"^{_H}*[\[(]?{_TS}[\])]?(?:{_H}*-->{_H}*[\[(]?{_TS}[\])]?)?{_H}*(?:\n|\Z)", re.M
)


def strip_timestamps(text: str) -> str:
    """Remove ``00:01:23`` anywhere, ``0:23`` anywhere, and a timestamp on a line of its own
    among other lines.

    A bare ``1:23`` in running text is kept, and so is a whole one-line utterance
    "6:15" (an answer to "what time?"): see the module docstring.
    """
    if ":" not in text:
        return text
    if "\n" in text:
        text = _TIMESTAMP_LINE.sub("", text)
    text = _HMS.sub("", text)
    if "0:" in text:
        text = _ZERO_HOUR.sub("", text)
    return text


# 5. Dates #####################################################################

_ISO_DATE = re.compile(
    r"(?<![\w/.-])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"(?![\w/-])"
)
_DATE_LINE = re.compile(
    rf"^{_H}*(?:(?:session{_H}+)?date{_H}*:{_H}*)?{_DATE_TOKEN.pattern}{_H}*(?:\n|\Z)", re.M | re.I
)


def strip_dates(text: str) -> str:
    """Remove ISO dates anywhere and, among other lines, a line that holds only a date.

    Dates in a sentence stay, and so does a whole one-line utterance that is a date
    ("March 5, 2024" answering "when is the hearing?").
    """
    if _DIGIT.search(text) is None:
        return text
    if "\n" in text:
        text = _DATE_LINE.sub("", text)
    if "-" in text:
        text = _ISO_DATE.sub("", text)
    return text


# 6. Page furniture ############################################################

_PAGE = (
    rf"(?:[-\u2013\u2014]{_H}*)?(?:page|pg\.?|p\.){_H}*\d{{1,4}}(?:{_H}*(?:of|/){_H}*\d{{1,4}})?"
    rf"(?:{_H}*[-\u2013\u2014])?"
    rf"|\d{{1,4}}{_H}+of{_H}+\d{{1,4}}"
    rf"|[-\u2013\u2014]{_H}*\d{{1,4}}{_H}*[-\u2013\u2014]"
)
# Shared with core/importers/furniture.py, which finds page furniture in whole documents.
PAGE_PATTERN = _PAGE
DATE_PATTERN = _DATE_TOKEN.pattern
_PAGE_MARKER_LINE = re.compile(rf"^{_H}*(?:{_PAGE}){_H}*$", re.M | re.I)
_PAGE_MARKER = re.compile(rf"{_H}*(?:{_PAGE}){_H}*", re.I)


def _drop_lines(lines: list[str], is_furniture: Callable[[str], bool]) -> str:
    """Join ``lines`` without the furniture lines and the blank lines around each one:
    a page break is not a paragraph break."""
    out: list[str] = []
    after_furniture = False
    for line in lines:
        if not line.strip():
            if not after_furniture:
                out.append(line)
        elif is_furniture(line):
            while out and not out[-1].strip():
                out.pop()
            after_furniture = True
        else:
            out.append(line)
            after_furniture = False
    return "\n".join(out)


def strip_page_markers(text: str) -> str:
    """Remove page-number lines (``Page 3 of 12``, ``- 3 -``) among other lines, and the blank
    lines around them. A one-line utterance ("3 of 12") is speech and stays."""
    if "\n" not in text or _DIGIT.search(text) is None or _PAGE_MARKER_LINE.search(text) is None:
        return text
    return _drop_lines(text.split("\n"), lambda line: _PAGE_MARKER.fullmatch(line) is not None)


# 7. Whitespace ################################################################

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def normalise_whitespace(text: str) -> str:
    """One space between words; wrapped lines join; a paragraph break stays as one blank line."""
    if "\n" not in text:
        return " ".join(text.split())
    parts = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in parts if p)


# The pipeline #################################################################

RULES: list[tuple[str, Callable[[str], str]]] = [
    ("normalise_unicode", normalise_unicode),
    ("strip_bracketed_notes", strip_bracketed_notes),
    ("strip_parenthetical_notes", strip_parenthetical_notes),
    ("strip_timestamps", strip_timestamps),
    ("strip_dates", strip_dates),
    ("strip_page_markers", strip_page_markers),
    ("normalise_whitespace", normalise_whitespace),
]

def clean(text: str) -> str:
    """Apply ``RULES`` in order. Returns ``""`` when nothing but noise was there.

    Equivalent to running every rule in turn; each rule is skipped when the text
    cannot contain what it removes (most utterances need none of them).
    """
    # One line of printable text has no controls, zero-width characters or wrapped lines.
    one_line = text.isprintable()
    if not (one_line and text.isascii()):
        text = normalise_unicode(text)
        one_line = text.isprintable()
    if one_line:
        text = text.strip()
    if "[" in text:
        text = strip_bracketed_notes(text)
    if "(" in text:
        text = strip_parenthetical_notes(text)
    if ":" in text:
        text = strip_timestamps(text)
    # Date and page lines only exist among other lines; on one line only ISO dates
    # (which have dashes) are removed.
    if ("\n" in text or "-" in text) and _DIGIT.search(text) is not None:
        text = strip_dates(text)
        text = strip_page_markers(text)
    if one_line:
        text = text.strip()
        return " ".join(text.split()) if "  " in text else text
    return normalise_whitespace(text)
