"""The import's fast paths give exactly what the plain definitions give.

The content hash is a stored identity (re-imports are recognised by it), so
its byte-table fast path must equal the regex definition on any text; decoding
normalises line ends in the bytes, which must equal doing it in the text; the
AnnoMI importer resolves each speaker label once per file, which must report
the same unknown labels as resolving it per utterance; the import's larger
page cache is given back when it ends.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest

from core import importing
from core.importers import ImportOptions, parse_bytes
from core.importers.decoding import decode_text
from core.importing import _hash_words, content_hash, reference_hash_words
from core.models import ParsedTranscript, ParsedTurn, Role
from core.store import open_store
from core.store import transcripts as transcript_store

# Word and non-word characters of every kind the hash treats differently: ASCII
# words and punctuation, the separators themselves, ASCII and Unicode whitespace,
# non-ASCII letters, digits and punctuation, a ligature, a lone surrogate.
_ALPHABET = list("ab Z9_ -.,!?'\"\n\t\x1e\x1f\x1c\x0b\x0c\r") + [
    "é", "—", "’", "\xa0", "\u2003", "ā", "二", "\ud800", "٣", "ǅ", "\x85", "ﬁ", "🙂",
]


def test_hash_words_equal_the_regex_definition_on_random_text() -> None:
    rng = random.Random(12)
    for _ in range(20_000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 24)))
        assert _hash_words(text) == reference_hash_words(text), repr(text)


@pytest.mark.parametrize(
    "text",
    ["", "\x1e", "\x1f\x1f", " . \x1e ? \x1f !", "therapist\x1f\x1eclient\x1fhi", "a  b\x1e\x1e c", "é—é"],
)
def test_hash_words_edge_cases(text: str) -> None:
    assert _hash_words(text) == reference_hash_words(text)


def test_content_hash_is_unchanged_from_earlier_versions() -> None:
    # Workspaces store these: computed by the version before the fast path.
    parsed = ParsedTranscript(title="t", format="text", turns=[
        ParsedTurn(Role.THERAPIST, "THERAPIST", "So — what brings you here… today?", "x"),
        ParsedTurn(Role.CLIENT, "CLIENT", "“Stick-thin,” she said. Café naïve; 2:30 pm!", "x"),
        ParsedTurn(Role.OTHER, " Dr. ?", "...", "x"),
        ParsedTurn(Role.OTHER, "", "二 words_with_under  scores", "x"),
        ParsedTurn(Role.THERAPIST, "T", "Okay.", "x"),
    ])
    assert content_hash(parsed) == "c2:bfc2e2e362eb1b0589908c0034bb53d38a5e93c610f27924cebbcd7404d676ac"


@pytest.mark.parametrize(
    "raw",
    [
        "a\r\nb\r\n",
        "a\rb\rc",
        "mixed\r\nends\rhere\n\r\n\r",
        "caf\u00e9\r\nna\u00efve \u2014 dash\r\n",
        "\ufeffbom first\r\nline\r",
        "no line ends at all",
    ],
)
def test_line_ends_normalised_in_bytes_equal_normalised_in_text(raw: str) -> None:
    data = raw.encode("utf-8")
    text = data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode("utf-8")
    assert decode_text(Path("x.txt"), data) == text.replace("\r\n", "\n").replace("\r", "\n")


def _annomi(rows: list[tuple[int, int, str, str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["transcript_id", "utterance_id", "interlocutor", "utterance_text"])
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_annomi_unknown_labels_per_transcript_in_speaking_order() -> None:
    data = _annomi([
        (1, 2, " narrator ", "The end."),
        (1, 0, "therapist", "Hello."),
        (1, 1, "Observer", "Noted."),
        (1, 3, "narrator", "Again."),
        (2, 0, "client", "Hi."),
        (2, 1, "Partner", "Me too."),
        (3, 0, "therapist", "Only known labels here."),
    ])
    options = ImportOptions()
    options.speaker_map["PARTNER"] = Role.OTHER  # mapped, so known: never reported
    first, second, third = parse_bytes(Path("a.csv"), data, options=options)
    assert first.unknown_labels == ["Observer", "narrator"]
    assert [t.speaker for t in first.turns] == ["therapist", "Observer", "narrator"]
    assert [t.role for t in second.turns] == [Role.CLIENT, Role.OTHER]
    assert second.unknown_labels == []
    assert third.unknown_labels == []


def test_an_import_runs_with_the_larger_page_cache_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = importing.read_and_parse

    def spy(path, **kw):
        seen.append(store.conn.execute("PRAGMA cache_size").fetchone()[0])
        return real(path, **kw)

    monkeypatch.setattr(importing, "read_and_parse", spy)
    (tmp_path / "s.txt").write_text("THERAPIST: How are you?\nCLIENT: Tired, mostly.\n", encoding="utf-8")
    with open_store(tmp_path / "ws") as store:
        before = store.conn.execute("PRAGMA cache_size").fetchone()[0]
        report = importing.import_paths(store, [tmp_path / "s.txt"])
        assert not report.failed
        assert seen == [-transcript_store.IMPORT_CACHE_KIB]
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == before
