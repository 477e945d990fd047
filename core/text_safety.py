"""Imported text is text: making user-supplied strings safe where they are shown or stored.

Titles, speaker labels, dataset and system names and file names come from
files nobody vetted. Each place that shows one picks the helper for its
medium: the terminal (``for_terminal``), Markdown (``markdown_inline``,
``markdown_code``), HTML / Qt rich text (``html_text``), and the store
(``storable``: SQLite cannot hold lone surrogates, and a NUL truncates text
in many tools). Qt widgets showing user data use ``Qt.PlainText`` instead
where they can; ``html_text`` is for the places that are always rich text
(tooltips, delegates painting HTML).
"""

from __future__ import annotations

import html
import re

REPLACEMENT = "\ufffd"

# ESC-introduced sequences (CSI ... final byte, OSC ... BEL/ST, two-byte escapes) go
# whole, so no half-sequence can reach the terminal; then any other control character.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS, PM, APC, SOS strings
    r"|\x1b[@-Z\\-_]?"  # two-byte escapes (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the 8-bit CSI
)
# C0 controls but tab, newline and carriage return (the progress bar's \r); DEL; C1
# controls; the bidirectional overrides that reorder what a terminal shows ("Trojan source").
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Characters that are markup wherever they stand; the rest (".", "-", "(" ...) only
# start a block at the beginning of a line (_MARKDOWN_LEADING), and escaping them
# everywhere made every instruction unreadable in the plain file.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MARKDOWN_LEADING = re.compile(r"^(\s*|\s*\d+)([#+\-=>!]|(?<=\d)[.)])")


def without_surrogates(text: str) -> str:
    """Lone surrogates (JSON ``\\ud800`` escapes) become U+FFFD: no UTF-8 encoder takes them."""
    return _SURROGATES.sub(REPLACEMENT, text) if not text.isascii() else text


def storable(text: str) -> str:
    """Text that SQLite, JSON exports and every reader downstream can hold: no NULs, no surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return without_surrogates(text)


def for_terminal(text: str) -> str:
    """``text`` with escape sequences and control characters removed (newlines and tabs kept)."""
    if not _UNSAFE.search(text):
        return text  # the common case: one scan, no copy
    text = _ANSI.sub("", text)
    text = _TERMINAL_CONTROLS.sub("", text)
    return without_surrogates(text)


def one_line(text: str) -> str:
    """``for_terminal`` text on one line: line breaks inside a value become spaces."""
    return for_terminal(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def markdown_inline(text: str) -> str:
    """A value inside Markdown prose, headings or table cells: shown as typed, never markup.

    Backslash-escapes the characters that are markup anywhere (emphasis, code,
    links, ``<``/``&`` so raw HTML shows as text, ``|`` for tables) and whatever
    would open a heading, list or quote at the start; keeps it on one line.
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))
    return _MARKDOWN_LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped, count=1)


def markdown_code(text: str) -> str:
    """A value as inline code: a fence one backtick longer than any run inside it."""
    text = one_line(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_text(text: str) -> str:
    """A value inside HTML or Qt rich text, shown literally (tags, entities and all)."""
    return html.escape(for_terminal(text), quote=True)


def rich_text_literal(text: str) -> str:
    """``text`` for a place Qt may read as rich text (tooltips): always rich, shown literally.

    Qt guesses rich text from the string (``Qt::mightBeRichText``), so a title like
    ``<h1 style="color:red">`` would be rendered; wrapped and escaped, it is shown as typed.
    """
    return f'<p style="white-space:pre-wrap">{html_text(text)}</p>'


class TerminalSafeStream:
    """Wraps stdout/stderr so nothing written through it can drive the terminal.

    The CLI prints titles, speaker labels, file names and replies from files
    nobody vetted; an ESC sequence in one could recolour, retitle or clear the
    user's terminal, and a lone surrogate would end the command in a
    UnicodeEncodeError. ``write`` passes text through ``for_terminal``;
    everything else is the wrapped stream's.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(for_terminal(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
