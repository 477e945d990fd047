"""Sessions rendered the way PDF transcript collections come out as text.

``render_pdf_style`` lays a session out as pages: hard-wrapped lines, a page
break every so many lines wherever it falls (mid-turn, mid-sentence), and at
each break the furniture of one of several real layouts: running heads (the
document title, a series name), ``Printed 03/14/2011 10:42 AM`` stamps,
``Page 12 of 40``, ``- 12 -`` and bare page numbers, form feeds. Speaker labels
come in several styles. Shared by tests/core/test_furniture_annomi.py and
tests/benchmarks/bench_furniture.py.
"""

from __future__ import annotations

import csv
import random
import re
import textwrap
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

# Words as the tests see them: cleaning may change spacing and punctuation, never words.
WORD = re.compile(r"\w+")
# AnnoMI marks all its non-speech in square brackets.
ANNOMI_NOISE = re.compile(r"\[[^\]]*\]")

LABEL_STYLES = {
    "upper": ("THERAPIST: ", "CLIENT: "),
    "mixed": ("Therapist: ", "Client: "),
    "short": ("T: ", "C: "),
    "named": ("DR. MORGAN: ", "CLIENT: "),
    "stamped": ("[{ts}] THERAPIST: ", "[{ts}] CLIENT: "),
    "own-line": ("THERAPIST:\n", "CLIENT:\n"),
}
LAYOUTS = ("printed-page-of", "dash-number", "series-head", "bare-number", "title-only", "one-line-footer")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "utf-8-crlf")
SERIES = "Counseling and Psychotherapy Transcripts, Volume II"


@dataclass(slots=True)
class Session:
    key: str
    title: str
    utterances: list[tuple[str, str]]  # (role, text): role is therapist or client


def annomi_sessions(path: Path) -> list[Session]:
    rows: dict[str, list[dict]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["transcript_id"], []).append(row)
    out = []
    for tid, utterances in rows.items():
        utterances.sort(key=lambda r: int(r["utterance_id"]))
        out.append(
            Session(
                tid,
                utterances[0]["video_title"],
                [(r["interlocutor"], " ".join(r["utterance_text"].split())) for r in utterances],
            )
        )
    return out


def true_turns(utterances: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The session's speaker turns, independently of the importer: words of each utterance
    without bracketed noise, noise-only utterances gone, same-speaker runs merged."""
    spoken = [(who, WORD.findall(ANNOMI_NOISE.sub(" ", text))) for who, text in utterances]
    spoken = [(who, words) for who, words in spoken if words]
    return [(who, [w for _, words in group for w in words]) for who, group in groupby(spoken, key=lambda s: s[0])]


@dataclass(slots=True)
class Rendered:
    data: bytes
    text: str
    title: str
    label_style: str
    layout: str
    encoding: str
    pages: int
    furniture: list[str]  # every furniture line written (stripped), for "none left" checks
    furniture_lines: int  # how many furniture lines were written


def _stamp(rng: random.Random) -> str:
    hour = rng.randint(1, 12)
    return f"Printed {rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(5, 15):02d} {hour}:{rng.randint(0, 59):02d} {rng.choice(['AM', 'PM'])}"


def render_pdf_style(
    session: Session,
    *,
    label_style: str,
    layout: str,
    encoding: str,
    seed: int = 0,
    with_header: bool = True,
) -> Rendered:
    rng = random.Random(f"{session.key}:{label_style}:{layout}:{encoding}:{seed}")
    width = rng.randint(60, 90)
    page_lines = rng.randint(38, 52)
    therapist, client = LABEL_STYLES[label_style]
    title = session.title or f"Session {session.key}"
    body: list[str] = []
    if with_header:
        body += [f"Title: {title}", f"Session: {session.key}", "BEGIN TRANSCRIPT:"]
    for pos, (role, text) in enumerate(session.utterances):
        label = (therapist if role == "therapist" else client).replace("{ts}", f"00:{pos // 60 % 60:02d}:{pos % 60:02d}")
        if label.endswith("\n"):
            body.append(label.rstrip("\n"))
            body += textwrap.wrap(text, width) or [""]
        else:
            body += textwrap.wrap(label + text, width, subsequent_indent="") or [label.rstrip()]
    if with_header:
        body.append("END TRANSCRIPT")

    chunks = [body[i : i + page_lines] for i in range(0, len(body), page_lines)]
    n_pages = len(chunks)
    stamp = _stamp(rng)
    furniture: set[str] = set()
    out: list[str] = []
    written = 0

    def add(line: str) -> None:
        nonlocal written
        written += 1
        out.append(line)
        if line.strip() and line.strip() != "\f":
            furniture.add(line.strip().replace("\f", ""))

    for number, chunk in enumerate(chunks, start=1):
        # Head of the page
        if layout in ("printed-page-of", "bare-number", "title-only", "dash-number", "one-line-footer"):
            add(f"{' ' * rng.randint(0, 20)}{title}")
            out.append("")
        elif layout == "series-head":
            add(SERIES)
            add(title)
            out.append("")
        out.extend(chunk)
        # Foot of the page
        out.append("")
        if layout == "printed-page-of":
            add(stamp)
            add(f"Page {number} of {n_pages}")
        elif layout == "dash-number":
            add(f"- {number} -")
        elif layout == "series-head":
            add(f"Page {number}")
        elif layout == "bare-number":
            add(f"{' ' * 30}{number}")
        elif layout == "one-line-footer":
            add(f"{stamp}{' ' * rng.randint(4, 30)}Page {number} of {n_pages}")
        if number < n_pages and layout in ("printed-page-of", "series-head", "bare-number", "one-line-footer"):
            out.append("\f")
    text = "\n".join(out).replace("\n\f\n", "\n\f")
    if encoding == "utf-8-crlf":
        data = text.replace("\n", "\r\n").encode("utf-8")
    else:
        data = text.encode(encoding, errors="strict")
    return Rendered(data, text, title, label_style, layout, encoding, n_pages, sorted(furniture), written)


def encodable(session: Session, encoding: str) -> Session:
    """The session with characters the encoding lacks spelt in ASCII (AnnoMI has an 'ā')."""
    if encoding != "cp1252":
        return session
    fixed = []
    for role, text in session.utterances:
        try:
            text.encode("cp1252")
        except UnicodeEncodeError:
            text = "".join(c if c.encode("cp1252", "ignore") else "a" for c in text)
        fixed.append((role, text))
    title = session.title
    try:
        title.encode("cp1252")
    except UnicodeEncodeError:
        title = "".join(c if c.encode("cp1252", "ignore") else "a" for c in title)
    return Session(session.key, title, fixed)
