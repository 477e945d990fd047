"""Page furniture in transcripts exported from PDF collections, found and taken out.

A PDF turned into text carries what was printed on every page: the document
title repeated at the top, ``Printed 03/14/2011 10:42 AM`` and ``Page 12 of 40``
at the bottom, ``- 12 -`` page numbers, form feeds. They fall wherever the page
broke, inside turns and mid-sentence. ``strip_furniture`` works on the whole
document before turns are split (a running head can look like a speaker line,
``SESSION 12: ANXIETY``) and removes whole lines only:

* **stamps**: a line made only of page markers and print stamps
  (``Page 12 of 40``, ``12 of 40``, ``- 12 -``, ``Pg. 4``,
  ``Printed 03/14/2011 10:42 AM``, both on one line); a form feed is a page break;
* **running heads and feet**: a line that repeats where pages break. A copy is
  "at a page break" when at most one other non-blank line stands between it and
  a stamp, a form feed or another furniture line (the first and last lines of
  the document count as page edges). A line is a running head when it is on
  75 % of the pages or more, at least two copies are at a break or edge,
  one at a real break, and 80 % of all its copies are;
  two copies must also sit in the same place (both right at the break, or
  equally far from it).
  A therapist's "Okay." repeated on lines of its own is everywhere, so it fails.
  A repeated line with a page number in it (``Smith, session 4 - page 12``,
  digits folded) is a running foot from three copies on. With no stamps, form
  feeds or title lines at all, a line counts when it repeats at regular
  intervals over the whole document, one copy per page, each copy set apart by
  a blank line;
* **the title** on a line of its own: the declared one (``Title: …``), or else
  the document's first line when it repeats (the running head of page one);
* **a bare number** (``12``, ``2011``): judged by position only: next to a
  page break, or one of a run of consecutive numbers spread one per page.

Lines the caller protects (known speaker lines, header lines, BEGIN/END
markers) are never running heads. A removed line takes the blank lines around
it, so the sentence a page break split joins up again. Nothing here looks at
the words of a line that is not repeated or numbered, so ordinary speech is
safe. A document with no form feed, no line that starts like a stamp or a page
number, and neither its title nor its first line repeated is left as it is
after a few scans in C: the cost on ordinary transcripts is about 1.5 % of their
import, and about 10 % on PDF exports full of furniture
(``tests/benchmarks/bench_furniture.py``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from core.cleaning import DATE_PATTERN, PAGE_PATTERN

__all__ = ["Stripped", "strip_furniture"]

_H = r"[^\S\n]"
_STAMP = (
    rf"(?:printed|print{_H}+date|date{_H}+printed|downloaded|retrieved|generated|exported)"
    rf"(?:{_H}+(?:on|at))?{_H}*:?{_H}*(?:{DATE_PATTERN})"
)
# Matched against a stripped line that _MAYBE_STAMP found.
_STAMP_LINE = re.compile(rf"(?:(?:{_STAMP}|{PAGE_PATTERN}){_H}*)+", re.I)
_DIGITS = re.compile(r"\d+")
_DIGIT = re.compile(r"\d")
_ASCII_DIGIT = re.compile(r"[0-9]")  # \d in an ASCII line, and twice as fast
# A running foot written around its page number: "Smith, session 4 - page 12".
_PAGE_IN_KEY = re.compile(r"\bp(?:age|g\.?)\s*#(?:\s*(?:of|/)\s*#)?")
_LETTER = re.compile(r"[^\W\d_]")
# Led by a newline and without re.I, like _MAYBE_STAMP: a scan in C, not a try at every character.
_TITLE_LINE = re.compile(
    rf"\n{_H}*(?:[sS][eE][sS][sS][iI][oO][nN]{_H}+|[tT][rR][aA][nN][sS][cC][rR][iI][pP][tT]{_H}+)?"
    rf"[tT][iI][tT][lL][eE]{_H}*:{_H}*(\S.*)"
)

NEAR = 2  # a copy at most this many non-blank lines from a page break is "at" it
HEAD_SHARE = 0.8  # share of a running head's copies that must be at page breaks
MAX_HEAD_CHARS = 160
HEAD_PAGES = 0.75  # share of the pages a running head must be on
BREAK_SPAN = 4  # furniture lines this close together belong to one page break
PAGE_MIN_LINES = 12  # a page of text is at least this many lines (for periodic heads)
MAX_WALK = 40  # lines looked at around a line to find its page break


@dataclass(slots=True)
class Stripped:
    """A document without its page furniture, and the way back to the text as imported."""

    original: str  # the text as imported (form feeds as line breaks)
    text: str  # without furniture
    removed: int = 0  # furniture lines removed
    heads: list[str] = field(default_factory=list)  # running heads, first copy as written
    _clean_starts: list[int] = field(default_factory=list)
    _orig_starts: list[int] = field(default_factory=list)
    _removed_at: list[int] = field(default_factory=list)  # original offsets of removed lines

    def original_offset(self, offset: int) -> int:
        """Where ``offset`` of ``text`` is in ``original``; the end maps to the end."""
        if offset >= len(self.text):  # (before the next test: a document of furniture only keeps nothing)
            return len(self.original)
        if not self._clean_starts:
            return offset
        i = bisect_right(self._clean_starts, offset) - 1
        return self._orig_starts[i] + offset - self._clean_starts[i]

    def removed_between(self, start: int, end: int) -> int:
        """Furniture lines removed from ``original[start:end]``."""
        return bisect_right(self._removed_at, end - 1) - bisect_right(self._removed_at, start - 1)


def declared_title(text: str) -> str | None:
    """The ``Title:`` header of a document, if its first few KB have one."""
    m = _TITLE_LINE.search("\n" + text[:8192])
    return m.group(1).strip() if m else None


def strip_furniture(
    text: str, *, title: str | None = None, protect: Callable[[str], bool] | None = None
) -> Stripped:
    """``text`` (``\\n`` newlines, form feeds kept as page breaks) without its page furniture."""
    feeds: list[int] = []
    if "\f" in text:
        # A form feed ends a line and starts a page: the line after it is a page's first.
        pos = 0
        while (feed := text.find("\f", pos)) >= 0:
            feeds.append(feed)
            pos = feed + 1
        text = text.replace("\f", "\n")
    page_starts: set[int] = set()
    candidates = _maybe_stamps(text, feeds, page_starts)
    if not (page_starts or candidates or _repeats_title_or_first_line(text, title)):
        return Stripped(text, text)  # most transcripts stop here, after a few scans in C
    lines = text.split("\n")
    stripped = list(map(str.strip, lines))
    found = _find(lines, stripped, candidates, page_starts, title, protect or (lambda _line: False))
    if found is None:
        return Stripped(text, text)
    furniture, heads = found
    return _drop(text, lines, stripped, furniture, heads)


# A line that may be a stamp or a page number: what follows its start, roughly. Led by
# a newline and without re.I (cases spelt out), so the scan runs ten times faster; the
# lookahead turns most lines away on their first character, before trying every branch
# (twice as fast again).
_MAYBE_STAMP = re.compile(
    rf"\n{_H}*+(?=[\d\-\u2013\u2014pPdDrRgGeE])"
    rf"(?:\d|[-\u2013\u2014]{_H}*\d|[pP](?:[aA][gG][eE]|[gG]|\.|[rR][iI][nN][tT])"
    rf"|[dD][aA][tT][eE]{_H}+[pP]|[dD][oO][wW][nN][lL]|[rR][eE][tT][rR]|[gG][eE][nN][eE][rR]"
    rf"|[eE][xX][pP][oO][rR][tT])"
)


def _maybe_stamps(text: str, feeds: list[int], page_starts: set[int]) -> list[int]:
    """Lines that may be a stamp or a page number, by how they start (found in C, not
    line by line in Python). The lines after the form feeds at ``feeds`` (line breaks
    now) go into ``page_starts``, numbered in the same pass: each count of line breaks
    is a scan of the text."""
    out = [0] if _MAYBE_STAMP.match("\n" + text[:200]) else []
    line = pos = k = 0
    for m in _MAYBE_STAMP.finditer(text):
        at = m.start() + 1
        while k < len(feeds) and feeds[k] < at:
            line += text.count("\n", pos, feeds[k] + 1)
            pos = feeds[k] + 1
            page_starts.add(line)
            k += 1
        line += text.count("\n", pos, at)
        pos = at
        out.append(line)
    for feed in feeds[k:]:
        line += text.count("\n", pos, feed + 1)
        pos = feed + 1
        page_starts.add(line)
    return out


def _repeats_title_or_first_line(text: str, title: str | None) -> bool:
    if title and text.count(title.strip()) >= 2:
        return True
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    first = text[start : end if end >= 0 else len(text)].strip()
    return bool(first) and text.count(first) >= 2


class _Page:
    """Positions relative to page breaks, over the document's lines."""

    def __init__(self, stripped: list[str], page_starts: set[int], furniture: set[int]) -> None:
        self.lines = stripped
        self.page_starts = page_starts
        self.furniture = furniture

    def side(self, i: int, step: int, near: int = NEAR) -> tuple[str, int] | None:
        """('break'|'edge', distance) looking from line ``i`` in direction ``step``."""
        lines, furniture, page_starts = self.lines, self.furniture, self.page_starts
        distance = 1
        j = i
        # Bounded: a run of thousands of blank lines must not make a file quadratic.
        for _ in range(MAX_WALK):
            if step < 0 and j in page_starts:
                return ("break", distance)
            j += step
            if j < 0 or j >= len(lines):
                return ("edge", distance)
            if step > 0 and j in page_starts:
                return ("break", distance)
            if j in furniture:
                return ("break", distance)
            if lines[j]:
                distance += 1
                if distance > near:
                    return None
        return None

    def place(self, i: int, near: int = NEAR) -> tuple[str, int] | None:
        """Where line ``i`` sits: ('break'|'edge', +d) after a break, (…, -d) before one."""
        after = self.side(i, -1, near)
        if after is not None and after[0] == "break":
            return ("break", after[1])
        before = self.side(i, 1, near)
        if before is not None and before[0] == "break":
            return ("break", -before[1])
        if after is not None:
            return ("edge", after[1])
        if before is not None:
            return ("edge", -before[1])
        return None


def _find(
    lines: list[str],
    stripped: list[str],
    candidates: list[int],
    page_starts: set[int],
    title: str | None,
    protect: Callable[[str], bool],
) -> tuple[set[int], list[str]] | None:
    # Cheap passes first (C-level string methods); most transcripts stop at the first check.
    counts = Counter(stripped)
    stamps: list[int] = []
    numbers: list[tuple[int, int]] = []
    for i in candidates:
        line = stripped[i]
        if line and len(line) <= MAX_HEAD_CHARS:
            if line.isdigit() or (line[-1] == "." and line[:-1].isdigit()):
                if len(line.rstrip(".")) <= 4:
                    numbers.append((i, int(line.rstrip("."))))
            elif _STAMP_LINE.fullmatch(line):
                stamps.append(i)
    protected: dict[str, bool] = {}

    def unprotected(line: str) -> bool:
        p = protected.get(line)
        if p is None:
            p = protected[line] = protect(line)
        return not p

    repeated = [
        line for line, n in counts.items()
        if n >= 2 and line and len(line) <= MAX_HEAD_CHARS and not line.isdigit() and unprotected(line)
    ]
    title = title.strip() if title else None
    anchored = bool(stamps or page_starts)
    if not (anchored or numbers or repeated or (title and title in counts)):
        return None

    furniture = set(stamps)
    heads: list[str] = []
    if not title and repeated:
        # Undeclared, the title is the document's first line; repeated, it is the running head.
        first = next((line for line in stripped if line), "")
        if counts[first] >= 2 and _LETTER.search(first) and unprotected(first):
            title = first
            heads.append(first)
    if title and title in counts and unprotected(title):
        furniture.update(_copies(stripped, title, counts[title]))
    page = _Page(stripped, page_starts, furniture)

    if anchored or furniture:  # title lines mark page breaks too
        # Copies of one line by key: repeated lines wherever they are, and lines next to
        # a page break with their digits folded, so "Smith session 4 - page 12" repeats.
        wanted = {line for line in repeated if line != title}
        by_key: dict[str, list[int]] = {}
        # The lines near a break, in order, as runs of line numbers: the breaks are few,
        # the lines near them many.
        n = len(stripped)
        look: list[int] = []
        end = 0  # (so no run starts above the first line)
        for b in sorted(furniture | page_starts):
            start = b - BREAK_SPAN if b - BREAK_SPAN > end else end
            stop = b + BREAK_SPAN + 1 if b + BREAK_SPAN < n else n
            if start < stop:
                look += range(start, stop)
                end = stop
        if wanted:
            if len(wanted) <= 2:  # the usual few: found by list scans in C
                copies = [i for line in wanted for i in _copies(stripped, line, counts[line])]
            else:
                copies = [i for i, line in enumerate(stripped) if line in wanted]
            look = sorted({*look, *copies})
        for i in look:
            line = stripped[i]
            if not line or i in furniture or len(line) > MAX_HEAD_CHARS or line == title:
                continue
            if _ASCII_DIGIT.search(line) if line.isascii() else _DIGIT.search(line):
                key = _DIGITS.sub("#", line)
            elif line in wanted:
                key = line
            else:
                continue
            by_key.setdefault(key, []).append(i)
        # Twice: a second head line ("Session 12" under the title) is near a break
        # only once the first one is known.
        if _add_heads(by_key, lines, stripped, counts, page, heads, unprotected):
            _add_heads(by_key, lines, stripped, counts, page, heads, unprotected)
    elif repeated:
        by_key = {}
        wanted = set(repeated)
        for i, line in enumerate(stripped):
            if line in wanted:
                by_key.setdefault(line, []).append(i)
        _periodic_heads(by_key, lines, furniture, heads)
    _page_numbers(numbers, page, furniture)
    if not furniture:
        return None
    return furniture, heads


def _copies(lines: list[str], line: str, n: int) -> list[int]:
    """Where the ``n`` copies of ``line`` are (list scans in C)."""
    out: list[int] = []
    i = -1
    for _ in range(n):
        i = lines.index(line, i + 1)
        out.append(i)
    return out


def _add_heads(
    by_key: dict[str, list[int]],
    lines: list[str],
    stripped: list[str],
    counts: Counter[str],
    page: _Page,
    heads: list[str],
    unprotected: Callable[[str], bool],
) -> bool:
    """Running heads near the page breaks known so far; True if any was found."""
    furniture = page.furniture
    # A running head is on (nearly) every page: a line at two page breaks of twenty
    # is a coincidence ("All right." said twice where pages happened to end).
    # Counted as the pages stood when this pass began, and only when a key gets that
    # far (most passes find nothing).
    needed = 0.0
    changed = False
    for key, copies in by_key.items():
        if len(copies) < 2 or not _LETTER.search(key):
            continue
        todo = [i for i in copies if i not in furniture]
        if not todo:
            continue
        if not needed:  # every key that adds a head gets here first
            needed = max(2.0, HEAD_PAGES * _pages(stripped, counts, furniture, page.page_starts))
        paged = len(copies) >= 3 and _PAGE_IN_KEY.search(key.casefold())
        # Fewer copies than pages needed can never be enough: said before the caller's
        # check and the walks to the page breaks, the dearer tests.
        if not paged and len(copies) < needed:
            continue
        if not unprotected(lines[todo[0]]):
            continue
        if not paged:
            places = [page.place(i) for i in copies]
            at_break = sum(1 for p in places if p is not None and p[0] == "break")
            at_edge = sum(1 for p in places if p is not None)
            if at_break < 1 or at_edge < max(needed, HEAD_SHARE * len(copies)):
                continue
            if len(copies) == 2 and not _same_place(places[0], places[1]):
                continue
        furniture.update(todo)
        heads.append(stripped[copies[0]])
        changed = True
    return changed


def _pages(stripped: list[str], counts: Counter[str], furniture: set[int], page_starts: set[int]) -> int:
    """How many pages the furniture found so far marks: page breaks between text, plus one
    (furniture lines close together are one break; a head above the first line of text
    or a foot below the last is not a break; text here is a line that does not repeat)."""

    first = last = 0
    for i, line in enumerate(stripped):
        if counts[line] == 1 and i not in furniture:
            first = i
            break
    for i in range(len(stripped) - 1, first, -1):
        if counts[stripped[i]] == 1 and i not in furniture:
            last = i
            break
    count = 0
    previous = -BREAK_SPAN - 1
    for i in sorted(furniture | page_starts):
        if first < i < last and i - previous > BREAK_SPAN:
            count += 1
        previous = i
    return count + 1


def _same_place(a: tuple[str, int] | None, b: tuple[str, int] | None) -> bool:
    """Two copies in the same place on their pages: right at a break, or equally far from one."""
    return a is not None and b is not None and (a[1] == b[1] or (abs(a[1]) == 1 and abs(b[1]) == 1))


def _periodic_heads(by_key: dict[str, list[int]], lines: list[str], furniture: set[int], heads: list[str]) -> None:
    """Running heads of a document with no stamps or form feeds: one copy per page, evenly spaced."""
    n = len(lines)
    for key, copies in by_key.items():
        if len(copies) < 3 or not _LETTER.search(key):
            continue
        gaps = sorted(b - a for a, b in zip(copies, copies[1:], strict=False))
        median = gaps[len(gaps) // 2]
        if median < PAGE_MIN_LINES or gaps[0] < 0.8 * median or gaps[-1] > 1.2 * median:
            continue
        # One copy per page over the whole document, not a run in one part of it.
        if copies[0] > 1.2 * median or n - 1 - copies[-1] > 1.2 * median:
            continue
        # A running head stands apart from the text: a blank line above or below each copy.
        if not all(_stands_apart(lines, i) for i in copies):
            continue
        furniture.update(copies)
        heads.append(lines[copies[0]].strip())


def _stands_apart(lines: list[str], i: int) -> bool:
    return i == 0 or i == len(lines) - 1 or not lines[i - 1].strip() or not lines[i + 1].strip()


def _page_numbers(numbers: list[tuple[int, int]], page: _Page, furniture: set[int]) -> None:
    """Bare numbers (line, value) that are page numbers, by position alone."""
    if not numbers:
        return
    # Consecutive page numbers spread over the document (1, 2, 3 … one per page).
    chain: dict[int, list[int]] = {}
    for i, value in numbers:
        run = chain.pop(value - 1, None) or []
        run.append(i)
        chain[value] = run
    for run in chain.values():
        if len(run) >= 3 and min(b - a for a, b in zip(run, run[1:], strict=False)) >= PAGE_MIN_LINES:
            furniture.update(run)
    # Otherwise by position: right next to a page break, or at the document's first or
    # last line when it is the next page number (page 1 of a one-page document).
    last_page = max((value for i, value in numbers if i in furniture), default=0)
    for i, value in numbers:
        if i in furniture:
            continue
        place = page.place(i, near=1)
        if place is not None and (place[0] == "break" or value == last_page + 1):
            furniture.add(i)
            last_page = max(last_page, value)


def _drop(text: str, lines: list[str], stripped: list[str], furniture: set[int], heads: list[str]) -> Stripped:
    """The document without the furniture lines and the blank lines around each one:
    a page break is not a paragraph break. The work is per furniture line, in Python;
    the kept lines are joined once, in C."""
    kept: list[str] = []
    clean_starts: list[int] = []
    orig_starts: list[int] = []
    removed_at: list[int] = []
    clean = 0
    a = 0
    # Offsets only where a run starts or ends, each from the one before (lines are asked
    # for in order): the lengths of the lines between are summed in C.
    at = offset = 0
    n = len(lines)
    cut = sorted(furniture)
    cut.append(n)
    for f in cut:
        b = f
        if a:  # after a furniture line: the blank lines after it go with it
            while a < b and not stripped[a]:
                a += 1
        if b < n:  # and so do those before one
            while b > a and not stripped[b - 1]:
                b -= 1
        if a < b:
            offset += sum(map(len, lines[at:a])) + a - at
            clean_starts.append(clean)
            orig_starts.append(offset)
            run = lines[a:b]
            kept += run
            length = sum(map(len, run)) + b - a  # with a line break after it
            clean += length
            offset += length
            at = b
        if f < n:
            # (furniture lines often come in a run: "Printed …", "Page 2 of 9", the head)
            offset += len(lines[at]) + 1 if f - at == 1 else sum(map(len, lines[at:f])) + f - at
            at = f
            removed_at.append(offset)
        a = f + 1
    return Stripped(
        original=text,
        text="\n".join(kept),
        removed=len(removed_at),
        heads=heads,
        _clean_starts=clean_starts,
        _orig_starts=orig_starts,
        _removed_at=removed_at,
    )
