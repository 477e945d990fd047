"""SQL for transcripts, turns and the import log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import NotFoundError
from core.ids import TranscriptId, TurnId
from core.models import Category, ParsedTranscript, Role, Transcript, Turn, word_count
from core.store.connection import Store

_TRANSCRIPT_COLUMNS = (
    "id, title, source_path, content_hash, format, category, client_key, "
    "client_names, metadata, imported_at, turn_count"
)
_TURN_COLUMNS = "id, transcript_id, position, role, speaker, text, raw_text, word_count"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
            json.dumps(parsed.client_names, ensure_ascii=False),
            json.dumps(parsed.metadata, ensure_ascii=False, sort_keys=True),
            now_iso(),
            len(parsed.turns),
        ],
    )
    transcript_id = TranscriptId(cur.lastrowid)
    conn.executemany(
        "INSERT INTO turns (transcript_id, position, role, speaker, text, raw_text, word_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (transcript_id, pos, t.role.value, t.speaker, t.text, t.raw_text, word_count(t.text))
            for pos, t in enumerate(parsed.turns)
        ],
    )
    return transcript_id


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
    role_counts = dict(conn.execute("SELECT role, count(*) FROM turns GROUP BY role").fetchall())
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
        turns=sum(role_counts.values()),
        therapist_turns=role_counts.get("therapist", 0),
        client_turns=role_counts.get("client", 0),
        therapist_under_8=under_8,
        therapist_50_plus=plus_50,
        by_category=by_category,
        therapist_length_buckets=buckets,
    )


def get_setting(store: Store, key: str, default: object = None) -> object:
    row = store.conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else default


def set_setting(store: Store, key: str, value: object) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, json.dumps(value)],
        )
