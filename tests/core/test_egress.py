"""The egress gate: what would leave is shown and scanned; withheld text never leaves; the log is append-only."""

from __future__ import annotations

import sqlite3

import pytest

from core import egress
from core import gemini_connection as gconn
from core.generation import gemini
from core.store import Store
from core.store import egress_log
from core.tuning import vertex
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import (  # noqa: F401 - fixtures
    CLIENT_NAME,
    EXCLUDED_WORD,
    REDACTED_WORD,
    VISIBLE_WORD,
    fake,
    gstore,
)


def _kinds(text: str, names: tuple[str, ...] = ()) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for h in egress.scan_text(text, "t", egress._names_pattern(names)):  # noqa: SLF001
        out.setdefault(h.kind, []).append(h.text)
    return out


def test_scan_finds_each_kind_of_identifier() -> None:
    found = _kinds(
        "Dana said to mail dana.e@example.org or call (555) 123-4567 before 3/14/2025 or March 3rd, "
        "she lives at 221 Baker Street and her card is 4111111111111111. Evans agreed.",
        (CLIENT_NAME,),
    )
    assert found["name"] == ["Dana", "Evans"]
    assert found["email"] == ["dana.e@example.org"]
    assert found["phone"] == ["(555) 123-4567"]
    assert found["date"] == ["3/14/2025", "March 3rd"]
    assert found["address"] == ["221 Baker Street"]
    assert found["digits"] == ["4111111111111111"]


def test_scan_stays_quiet_on_plain_therapy_talk() -> None:
    assert _kinds("I hear that the week was hard and sleep has been short; what helped before?", ("Sam Lee",)) == {}


def test_withheld_text_never_reaches_the_server(gstore: Store, fake: FakeGoogle) -> None:
    conn = gconn.load(gstore)
    settings = vertex.TuneSettings()
    upload = vertex.plan(gstore, "d", conn, settings)
    job = vertex.start(gstore, egress.confirm(upload, yes=True), conn, settings)
    vertex.follow(gstore, job.id, conn, sleep=lambda s: None)
    for target in (gemini.base_target("gemini-2.5-flash"), gemini.tuned_target(gstore, job.id)):
        manifest = gemini.plan(gstore, "d", target, conn)
        gemini.run(gstore, egress.confirm(manifest, yes=True), conn, target)
    sent = fake.sent_text()
    assert VISIBLE_WORD in sent  # the special session was sent…
    assert EXCLUDED_WORD not in sent and REDACTED_WORD not in sent  # …without what was withheld
    assert "[redacted]" in sent


def test_manifest_lists_what_where_and_the_identifiers(gstore: Store) -> None:
    conn = gconn.load(gstore)
    manifest = vertex.plan(gstore, "d", conn, vertex.TuneSettings())
    text = "\n".join(manifest.describe())
    assert "project proj" in text and "bucket gs://bkt/attune" in text and "model gemini-2.5-flash" in text
    assert f"{manifest.examples} examples" in text and manifest.examples == sum(
        manifest.extra["splits"].values())
    counts = manifest.counts()
    assert counts["email"] >= 1 and counts["phone"] >= 1 and counts["address"] >= 1 and counts["name"] >= 1
    assert "dana.evans@example.com" in text
    assert manifest.characters > 0 and manifest.sample


def test_an_exclusion_after_the_build_stops_the_upload(gstore: Store, fake: FakeGoogle) -> None:
    from core.curation import exclude
    from core.store.decisions import ExcludeReason

    turn = gstore.conn.execute(
        "SELECT e.turn_id FROM dataset_examples e WHERE e.split = 'train' LIMIT 1").fetchone()[0]
    exclude(gstore, [turn], rater="me", reason=ExcludeReason.IDENTIFYING)
    with pytest.raises(egress.ValidationError, match="no longer match"):
        vertex.plan(gstore, "d", gconn.load(gstore), vertex.TuneSettings())
    assert fake.requests == []


def test_the_egress_log_is_append_only(gstore: Store) -> None:
    egress_log.append(gstore, kind="upload", destination="gs://b/x", what="w", content_hash="h", size=1, examples=1)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with gstore.transaction() as conn:
            conn.execute("UPDATE egress_log SET destination = 'elsewhere'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with gstore.transaction() as conn:
            conn.execute("DELETE FROM egress_log")
    assert [e.destination for e in egress_log.entries(gstore)] == ["gs://b/x"]
