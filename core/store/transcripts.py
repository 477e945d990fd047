"""SQL for transcripts, turns and the import log."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.clock import now_iso  # noqa: F401 - re-exported: store modules stamp rows with it
from core.errors import NotFoundError, UsageError
from core.ids import TranscriptId, TurnId
from core.models import Category, DeletionImpact, ParsedTranscript, Role, Transcript, Turn, word_count
from core.store.connection import Store
from core.store.settings import get_setting, set_setting  # noqa: F401 - re-exported (older callers)

_TRANSCRIPT_COLUMNS = (
    "id, title, source_path, content_hash, format, category, client_key, "
    "client_names, metadata, imported_at, turn_count"
)
_TURN_COLUMNS = "id, transcript_id, position, role, speaker, text, raw_text, word_count"


def _transcript(row: tuple) -> Transcript:
    return Transcript(
        id=TranscriptId(row[0]),
        title=row[1],
        source_path=row[2],
        content_hash=row[3],
        format=row[4],
        category=Category(row[5]),
        client_key=row[6],
        client_names=tuple(json.loads(row[7])),
        metadata=json.loads(row[8]),
        imported_at=row[9],
        turn_count=row[10],
    )


def _turn(row: tuple) -> Turn:
    return Turn(
        id=TurnId(row[0]),
        transcript_id=TranscriptId(row[1]),
        position=row[2],
        role=Role(row[3]),
        speaker=row[4],
        text=row[5],
        raw_text=row[6],
        word_count=row[7],
    )


# Writing ######################################################################


def transcript_id_for_hash(store: Store, content_hash: str) -> TranscriptId | None:
    row = store.conn.execute(
        "SELECT id FROM transcripts WHERE content_hash = ?", [content_hash]
    ).fetchone()
    return TranscriptId(row[0]) if row else None


def has_hashes_without_prefix(store: Store, prefix: str) -> bool:
    """True if some transcript's content hash does not start with ``prefix`` (an older kind)."""
    row = store.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM transcripts WHERE substr(content_hash, 1, ?) != ?)",
        [len(prefix), prefix],
    ).fetchone()
    return bool(row[0])


_ROLE_TEXT = {role: role.value for role in Role}
# json.dumps with options builds an encoder per call; these give the same text, once per import file.
_JSON = json.JSONEncoder(ensure_ascii=False).encode
_JSON_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def insert_transcript(
    store: Store, parsed: ParsedTranscript, *, source_path: str, content_hash: str
) -> TranscriptId:
    """Insert one transcript and its turns; the caller owns the transaction."""
    conn = store.conn
    cur = conn.execute(
        "INSERT INTO transcripts (title, source_path, content_hash, format, category, "
        "client_key, client_names, metadata, imported_at, turn_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            parsed.title,
            source_path,
            content_hash,
            parsed.format,
            parsed.category.value,
            parsed.client_key,
            _JSON(parsed.client_names),
            _JSON_SORTED(parsed.metadata),
            now_iso(),
            len(parsed.turns),
        ],
    )
    transcript_id = TranscriptId(cur.lastrowid)
    conn.executemany(
        "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            # _ROLE_TEXT, not t.role.value: an enum's .value is a descriptor call per turn.
            (transcript_id, pos, _ROLE_TEXT[t.role], t.speaker, t.text, t.raw_text, word_count(t.text))
            for pos, t in enumerate(parsed.turns)
        ],
    )
    return transcript_id


# The page cache an import runs with, in KiB (the connection's default is 2 MB). A large
# import touches far more pages than that (the turn indexes' insertion points, the
# full-text index's merges), and each miss is a read from the OS: at 1M turns, 6 of
# the import's 30 s of CPU were system time, 2.3 s with this cache. Peak memory stays
# far under the 200 MB target (tests/benchmarks/bench_import.py).
IMPORT_CACHE_KIB = 64 * 1024


@contextlib.contextmanager
def import_page_cache(store: Store) -> Iterator[None]:
    """Inside the block the connection caches up to ``IMPORT_CACHE_KIB``; after it, as before."""
    conn = store.conn
    before = conn.execute("PRAGMA cache_size").fetchone()[0]
    page_kib = conn.execute("PRAGMA page_size").fetchone()[0] / 1024
    if (-before if before < 0 else before * page_kib) >= IMPORT_CACHE_KIB:
        yield
        return
    conn.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        # Lowering it again gives the pages back (SQLite trims the cache to the new size).
        conn.execute(f"PRAGMA cache_size = {int(before)}")


_FTS_INSERT_TRIGGER = "turns_fts_insert"

# FTS5's merge settings while a batch is indexed, and its defaults (fts5Int.h). Each
# commit of an import writes one new segment; with the default automerge (4) FTS5
# merged each turn's index data again every fourth segment: 3.1 s of a 1M-turn
# import's full-text indexing, 1.6 s without. No automerge, and a crisis merge only at
# 200 segments (FTS5's own bound, so a search never reads more; ~100 commits of a
# 1M-turn import stay under it), indexes a batch at the cost of writing it once; the
# defaults are back before the batch commits, and later writes merge as before.
# A search over ~200 segments took 12 ms where a merged index took 6 ms (1M turns).
# Search results do not depend on how the index is split into segments
# (tests/core/test_fts_bulk.py).
_FTS_IMPORT_MERGE = {"automerge": 0, "crisismerge": 200}
_FTS_DEFAULT_MERGE = {"automerge": 4, "crisismerge": 16}


def defer_turn_index(store: Store) -> Callable[[], None]:
    """Index the turns inserted from now on in bulk, not one trigger call per row.

    Inside the caller's open transaction: drops the per-row full-text insert
    trigger and returns ``finish``, which the caller must call before its
    COMMIT: one ``INSERT … SELECT`` indexes every turn inserted since (new
    turns get ids above today's largest), under ``_FTS_IMPORT_MERGE`` and with
    FTS5's merge settings as they were afterwards, and the trigger is recreated
    from its own stored SQL. A rollback restores the trigger with everything
    else, so no committed state ever lacks it or an index entry. A batch that
    added no turns (only failed files) leaves the index untouched.
    """
    conn = store.conn
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", [_FTS_INSERT_TRIGGER]
    ).fetchone()
    if row is None:
        return lambda: None
    start = conn.execute("SELECT coalesce(max(id), 0) FROM turns").fetchone()[0]
    conn.execute(f"DROP TRIGGER {_FTS_INSERT_TRIGGER}")

    def finish() -> None:
        if conn.execute("SELECT coalesce(max(id), 0) FROM turns").fetchone()[0] <= start:
            conn.execute(row[0])  # nothing to index: the index and its settings stay untouched
            return
        saved = dict(conn.execute(
            "SELECT k, v FROM turns_fts_config WHERE k IN ('automerge', 'crisismerge')"
        ).fetchall())
        for key, value in _FTS_IMPORT_MERGE.items():
            conn.execute("INSERT INTO turns_fts(turns_fts, rank) VALUES (?, ?)", [key, value])
        conn.execute(
            "INSERT INTO turns_fts(rowid, text) SELECT id, text FROM turns WHERE id > ? ORDER BY id", [start]
        )
        # FTS5 writes its pending segment (and merges) at a savepoint or the commit:
        # here, while the settings above hold.
        conn.execute("SAVEPOINT turns_fts_flush")
        conn.execute("RELEASE turns_fts_flush")
        for key, value in _FTS_DEFAULT_MERGE.items():
            conn.execute("INSERT INTO turns_fts(turns_fts, rank) VALUES (?, ?)", [key, saved.get(key, value)])
        conn.execute(row[0])

    return finish


def log_import(
    store: Store,
    path: str,
    status: str,
    *,
    transcript_id: TranscriptId | None = None,
    message: str = "",
) -> None:
    store.conn.execute(
        "INSERT INTO import_log (at, path, status, transcript_id, message) VALUES (?, ?, ?, ?, ?)",
        [now_iso(), path, status, transcript_id, message],
    )


# Reading ######################################################################


def get_transcript(store: Store, transcript_id: TranscriptId) -> Transcript:
    row = store.conn.execute(
        f"SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts WHERE id = ?", [transcript_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"transcript {transcript_id} does not exist")
    return _transcript(row)


def list_transcripts(store: Store) -> list[Transcript]:
    rows = store.conn.execute(f"SELECT {_TRANSCRIPT_COLUMNS} FROM transcripts ORDER BY id")
    return [_transcript(r) for r in rows]


def count_transcripts(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]


def turns_of(store: Store, transcript_id: TranscriptId) -> list[Turn]:
    rows = store.conn.execute(
        f"SELECT {_TURN_COLUMNS} FROM turns WHERE transcript_id = ? ORDER BY position",
        [transcript_id],
    )
    return [_turn(r) for r in rows]


def get_turn(store: Store, turn_id: TurnId) -> Turn:
    row = store.conn.execute(f"SELECT {_TURN_COLUMNS} FROM turns WHERE id = ?", [turn_id]).fetchone()
    if row is None:
        raise NotFoundError(f"turn {turn_id} does not exist")
    return _turn(row)


def iter_dump(store: Store) -> Iterator[dict]:
    """Every transcript with its turns, in id order, one dict at a time.

    Streams turns in one ordered scan rather than a query per transcript.
    """
    transcripts = store.conn.execute(
        "SELECT id, title, category, client_names, source_path FROM transcripts ORDER BY id"
    ).fetchall()
    turns = store.conn.execute(
        "SELECT transcript_id, role, speaker, text FROM turns ORDER BY transcript_id, position"
    )
    pending = next(turns, None)
    for tid, title, category, names, source in transcripts:
        out_turns = []
        while pending is not None and pending[0] == tid:
            out_turns.append({"role": pending[1], "speaker": pending[2], "text": pending[3]})
            pending = next(turns, None)
        yield {
            "id": tid,
            "title": title,
            "category": category,
            "client_names": json.loads(names),
            "source": source,
            "turns": out_turns,
        }


# Source metadata ##############################################################
#
# transcripts.metadata is a JSON object per transcript: what the source said
# about the session (AnnoMI's mi_quality and topic, a mapped CSV's columns and
# group_id, a text header's fields). Whole numbers are JSON numbers; matching
# compares values as text, so "upvotes=3" finds 3.


@dataclass(frozen=True, slots=True)
class MetadataKey:
    key: str
    transcripts: int  # transcripts that have it
    values: int  # distinct values


def metadata_path(key: str) -> str:
    """The JSON path of a top-level key, quoted so dots and spaces in it are literal."""
    if not key or '"' in key:
        raise UsageError(f"metadata key {key!r}: must be non-empty and without double quotes")
    return f'$."{key}"'


def metadata_keys(store: Store) -> list[MetadataKey]:
    rows = store.conn.execute(
        "SELECT j.key, count(*), count(DISTINCT CAST(j.value AS TEXT)) "
        "FROM transcripts, json_each(transcripts.metadata) AS j "
        "WHERE j.type NOT IN ('object', 'array') GROUP BY j.key ORDER BY j.key"
    )
    return [MetadataKey(k, n, v) for k, n, v in rows]


def metadata_values(store: Store, key: str) -> list[tuple[str, int]]:
    """(value as text, transcripts) for one key, most common first."""
    rows = store.conn.execute(
        "SELECT CAST(json_extract(metadata, ?) AS TEXT) AS v, count(*) FROM transcripts "
        "WHERE v IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v",
        [metadata_path(key)],
    )
    return [(v, n) for v, n in rows]


def transcript_ids_where(store: Store, where: Mapping[str, str]) -> list[TranscriptId]:
    """Transcripts whose metadata has every KEY=VALUE of ``where`` (values as text), in id order."""
    if not where:
        raise UsageError("no KEY=VALUE condition given")
    sql = " AND ".join("CAST(json_extract(metadata, ?) AS TEXT) = ?" for _ in where)
    args: list[str] = []
    for key, value in where.items():
        args += [metadata_path(key), value]
    rows = store.conn.execute(f"SELECT id FROM transcripts WHERE {sql} ORDER BY id", args)
    return [TranscriptId(r[0]) for r in rows]


def transcript_metadata(store: Store) -> dict[TranscriptId, dict[str, Any]]:
    """Every transcript's metadata that is not empty, for lists that show it as columns."""
    rows = store.conn.execute("SELECT id, metadata FROM transcripts WHERE metadata != '{}'")
    return {TranscriptId(tid): json.loads(meta) for tid, meta in rows}


@dataclass(frozen=True, slots=True)
class Stats:
    transcripts: int
    turns: int
    therapist_turns: int
    client_turns: int
    therapist_under_8: int
    therapist_50_plus: int
    by_category: dict[str, int]
    therapist_length_buckets: list[tuple[str, int]]

    @property
    def under_8_share(self) -> float:
        return self.therapist_under_8 / self.therapist_turns if self.therapist_turns else 0.0


_BUCKETS = [(0, 7, "1-7"), (8, 19, "8-19"), (20, 49, "20-49"), (50, 99, "50-99"), (100, None, "100+")]


def stats(store: Store) -> Stats:
    conn = store.conn
    transcripts = conn.execute("SELECT count(*) FROM transcripts").fetchone()[0]
    # Per role from the partial indexes (migration 0012): therapist and other turns are
    # counted in their own index, client turns are the rest of all turns.
    total = conn.execute("SELECT count(*) FROM turns").fetchone()[0]
    therapist = conn.execute("SELECT count(*) FROM turns WHERE role = 'therapist'").fetchone()[0]
    other = conn.execute("SELECT count(*) FROM turns WHERE role = 'other'").fetchone()[0]
    under_8, plus_50 = conn.execute(
        "SELECT coalesce(sum(word_count < 8), 0), coalesce(sum(word_count >= 50), 0) "
        "FROM turns WHERE role = 'therapist'"
    ).fetchone()
    by_category = dict(
        conn.execute("SELECT category, count(*) FROM transcripts GROUP BY category ORDER BY category")
    )
    buckets = []
    for low, high, label in _BUCKETS:
        if high is None:
            sql, args = "word_count >= ?", [low]
        else:
            sql, args = "word_count BETWEEN ? AND ?", [low, high]
        n = conn.execute(
            f"SELECT count(*) FROM turns WHERE role = 'therapist' AND {sql}", args
        ).fetchone()[0]
        buckets.append((label, n))
    return Stats(
        transcripts=transcripts,
        turns=total,
        therapist_turns=therapist,
        client_turns=total - therapist - other,  # the CHECK on turns.role allows no fourth
        therapist_under_8=under_8,
        therapist_50_plus=plus_50,
        by_category=by_category,
        therapist_length_buckets=buckets,
    )


# Deleting transcripts (issue 10) #############################################


def deletion_impact(store: Store, transcript_ids: list[int]) -> DeletionImpact:
    conn = store.conn
    wanted = json.dumps(sorted(set(transcript_ids)))
    found = conn.execute(
        "SELECT tr.id, tr.title, tr.turn_count FROM json_each(?) j JOIN transcripts tr ON tr.id = j.value "
        "ORDER BY tr.id", [wanted]
    ).fetchall()
    missing = sorted(set(transcript_ids) - {r[0] for r in found})
    if missing:
        raise NotFoundError(f"transcript {missing[0]} does not exist")
    decisions = conn.execute(
        "SELECT count(*) FROM json_each(?) j JOIN decisions d ON d.transcript_id = j.value", [wanted]
    ).fetchone()[0]
    using = dict(conn.execute(
        "SELECT e.dataset_id, count(*) FROM json_each(?) j JOIN dataset_examples e ON e.transcript_id = j.value "
        "GROUP BY e.dataset_id", [wanted]
    ).fetchall())
    # A dataset reusing a frozen test split refers to its source: both go, or neither.
    doomed = set(using)
    while True:
        more = {r[0] for r in conn.execute(
            "SELECT id FROM datasets WHERE test_from IN (SELECT value FROM json_each(?))", [json.dumps(sorted(doomed))]
        )} - doomed
        if not more:
            break
        doomed |= more
    names = conn.execute(
        "SELECT id, name FROM datasets WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        [json.dumps(sorted(doomed))],
    ).fetchall()
    replies = conn.execute(
        "SELECT count(*) FROM responses r WHERE r.example_id IN (SELECT example_id FROM dataset_examples "
        "  WHERE dataset_id IN (SELECT value FROM json_each(?))) "
        "AND NOT EXISTS (SELECT 1 FROM dataset_examples o WHERE o.example_id = r.example_id "
        "  AND o.dataset_id NOT IN (SELECT value FROM json_each(?)))",
        [json.dumps(sorted(doomed)), json.dumps(sorted(doomed))],
    ).fetchone()[0]
    return DeletionImpact(
        transcripts=[(TranscriptId(r[0]), r[1]) for r in found],
        turns=sum(r[2] for r in found),
        decisions=decisions,
        datasets=[(name, using.get(did, 0)) for did, name in names],
        replies=replies,
    )


def delete_transcripts(store: Store, transcript_ids: list[int], *, with_datasets: bool = False) -> DeletionImpact:
    """Delete transcripts, their turns and every decision on them, in one transaction.

    A dataset built from them would no longer match its stored examples, so
    while one exists the delete is refused, unless ``with_datasets`` deletes
    those datasets (and replies only they held) too.
    """
    if transcript_ids:
        store.backup("before-delete")  # what is deleted stays recoverable (attune restore)
    with store.transaction() as conn:
        impact = deletion_impact(store, transcript_ids)
        if impact.datasets and not with_datasets:
            listed = ", ".join(f"{name!r}" for name, _ in impact.datasets)
            raise UsageError(
                f"{len(impact.datasets)} dataset(s) use these transcripts ({listed}); delete them first, "
                "or delete them together with the transcripts (--with-datasets)"
            )
        for name, _ in reversed(impact.datasets):  # newest first: reusers before the split they reuse
            conn.execute("DELETE FROM datasets WHERE name = ?", [name])
        conn.execute("DELETE FROM transcripts WHERE id IN (SELECT value FROM json_each(?))",
                     [json.dumps(sorted(set(transcript_ids)))])
    return impact


def mark_demo(store: Store, transcript_ids: list[int]) -> None:
    """Tag transcripts as demonstrations (metadata ``demo: true``): datasets leave them out by default."""
    with store.transaction() as conn:
        conn.executemany(
            "UPDATE transcripts SET metadata = json_set(metadata, '$.demo', json('true')) WHERE id = ?",
            [(t,) for t in transcript_ids],
        )
