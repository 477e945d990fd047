"""AnnoMI's 133 real sessions as PDF-exported text: page furniture never becomes speech.

Every session is rendered the way PDF transcript collections come out as text
(``furniture_fixtures.render_pdf_style``): hard-wrapped, a page break every
38-52 lines wherever it falls (mid-turn, mid-sentence), running heads, print
stamps, ``Page n of N``, ``- n -`` and bare page numbers, form feeds, in six
speaker-label styles and five encodings. Imported through the real pipeline,
the turns must equal AnnoMI's own (same-speaker runs merged) for at least 95 %
of the sessions, and no furniture may be left in any turn. A second rendering
of each session in other styles is then recognised as already imported.
"""

from __future__ import annotations

from pathlib import Path

from core.importing import import_paths
from core.store import open_store
from core.store import transcripts as transcript_store
from tests.conftest import ANNOMI_SIMPLE, needs_annomi
from tests.core.furniture_fixtures import (
    ENCODINGS,
    LABEL_STYLES,
    LAYOUTS,
    WORD,
    Rendered,
    Session,
    annomi_sessions,
    encodable,
    render_pdf_style,
    true_turns,
)

STYLES = list(LABEL_STYLES)


def _render_all(sessions: list[Session], folder: Path, shift: int) -> dict[str, tuple[Session, Rendered]]:
    """One file per session; styles, layouts, encodings and headers cycle independently."""
    folder.mkdir(parents=True)
    out = {}
    for i, session in enumerate(sessions):
        j = i + shift
        encoding = ENCODINGS[j % len(ENCODINGS)]
        session = encodable(session, encoding)
        rendered = render_pdf_style(
            session,
            label_style=STYLES[j % len(STYLES)],
            layout=LAYOUTS[(j // len(STYLES)) % len(LAYOUTS)],
            encoding=encoding,
            with_header=j % 3 != 0,
            seed=shift,
        )
        path = folder / f"annomi-{session.key}.txt"
        path.write_bytes(rendered.data)
        out[str(path)] = (session, rendered)
    return out


@needs_annomi
def test_pdf_style_annomi_imports_with_its_true_turns_and_no_furniture(tmp_path: Path) -> None:
    sessions = annomi_sessions(ANNOMI_SIMPLE)
    assert len(sessions) == 133
    first = _render_all(sessions, tmp_path / "first", shift=0)
    # Every combination of label style and layout, and every encoding, is exercised.
    assert {(r.label_style, r.layout) for _, r in first.values()} == {(s, lay) for s in STYLES for lay in LAYOUTS}
    assert {r.encoding for _, r in first.values()} == set(ENCODINGS)
    assert sum(r.pages for _, r in first.values()) > 400

    exact: set[str] = set()
    furniture_left: list[str] = []
    miscounted: list[str] = []
    with open_store(tmp_path / "ws") as store:
        report = import_paths(store, [tmp_path / "first"])
        assert not report.failed, [f.line() for f in report.failed]
        for result in report.files:
            session, rendered = first[result.path]
            [tid] = result.transcript_ids
            turns = transcript_store.turns_of(store, tid)
            got = [(t.role.value, WORD.findall(t.text)) for t in turns]
            if got == true_turns(session.utterances):
                exact.add(session.key)
            # Digits alone are words too ("a six"); the word comparison above covers them.
            for line in rendered.furniture:
                if not line.isdigit() and any(line in t.text for t in turns):
                    furniture_left.append(f"{session.key}: {line!r}")
            for n in range(1, rendered.pages + 1):
                for marker in (f"Page {n} of {rendered.pages}", f"- {n} -"):
                    if any(marker in t.text for t in turns):
                        furniture_left.append(f"{session.key}: {marker!r}")
            # (A one-page document's head is its title line: once, it is not known as furniture.)
            if rendered.pages > 1 and result.furniture_lines != rendered.furniture_lines:
                miscounted.append(
                    f"{session.key} ({rendered.layout}): {result.furniture_lines} of {rendered.furniture_lines}"
                )
            # The text as imported is kept beside the cleaned text.
            assert rendered.pages == 1 or any("Page" in t.raw_text or t.raw_text != t.text for t in turns)

    assert furniture_left == []
    assert len(miscounted) <= 0.05 * len(sessions), miscounted
    assert len(exact) >= 0.95 * len(sessions), f"{len(exact)} of {len(sessions)} sessions exact"

    # The same sessions again, laid out, labelled and encoded differently, under other names.
    # (Only where a word differs between the two, an 'ā' spelt 'a' for Windows-1252, is
    # a session new.)
    second = _render_all(sessions, tmp_path / "second", shift=17)
    first_words = {s.key: true_turns(s.utterances) for s, _ in first.values()}
    same = {s.key for s, _ in second.values() if true_turns(s.utterances) == first_words[s.key]} & exact
    assert len(same) >= 0.95 * len(sessions)
    with open_store(tmp_path / "ws") as store:
        report = import_paths(store, [tmp_path / "second"])
    already = {second[f.path][0].key for f in report.files if f.status == "already_imported"}
    assert already >= same
