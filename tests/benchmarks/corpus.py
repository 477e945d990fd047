"""Large synthetic corpora for benchmarks, grown from the real AnnoMI sessions.

Two products share one session generator:

* ``write_annomi_corpus``: ~13,000 AnnoMI-CSV files (~1,000,000 turns) for the
  import benchmark;
* ``make_large_workspace``: a ready workspace of the same size built with
  bulk inserts (schema from ``open_store``), cached by its parameters so the
  curation and dataset benchmarks can reuse it run after run.

Each synthetic session is a window of a real AnnoMI session (or, when the data
is absent, of a vocabulary-built one) with per-session word substitutions, so
the word-count distribution stays AnnoMI's (~43 % of therapist turns under 8
words, ~7 % of 50 or more) while no two sessions hash the same.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.workspace import DB_FILENAME

ANNOMI_SIMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "annomi" / "AnnoMI-simple.csv"
ANNOMI_COLUMNS = [
    "transcript_id",
    "mi_quality",
    "video_title",
    "video_url",
    "topic",
    "utterance_id",
    "interlocutor",
    "timestamp",
    "utterance_text",
    "main_therapist_behaviour",
    "client_talk_type",
]
CATEGORIES = ["Anxiety", "Depression", "Fatigue", "Frustration", "Sadness", "Anger", "Other"]
# Skewed like a real practice: many Anxiety/Depression sessions, few Anger.
CATEGORY_WEIGHTS = [24, 22, 9, 12, 10, 6, 17]
FIRST_NAMES = (
    "Alex Barbara Carlos Dana Elena Farid Grace Hannah Ines Jamal Kim Leila Marco Nadia Omar "
    "Priya Quentin Rosa Sam Tomas Uma Victor Wen Ximena Yusuf Zoe Aaron Bea Chen Dmitri "
    "Esther Felix Gita Hugo Iris Jonas Keiko Liam Maya Noah Olga Pablo Rana Sofia Theo"
).split()
LAST_NAMES = (
    "Adams Brown Costa Dubois Evans Fischer Garcia Haddad Ito Jensen Khan Lopez Müller Nguyen "
    "Okafor Petrov Quinn Rossi Silva Tanaka Usman Varga Weber Xu Yilmaz Zimmerman"
).split()
# Per-session substitutions: a few of these pairs (either direction) are
# swapped in each session, so text stays readable and word counts unchanged.
SYNONYMS = [
    ("really", "truly"), ("think", "believe"), ("feel", "sense"), ("maybe", "perhaps"),
    ("job", "work"), ("kids", "children"), ("wife", "partner"), ("husband", "spouse"),
    ("doctor", "physician"), ("drink", "beverage"), ("drinking", "boozing"), ("hard", "tough"),
    ("difficult", "challenging"), ("important", "vital"), ("sounds", "seems"), ("okay", "alright"),
    ("yeah", "yes"), ("lot", "bunch"), ("little", "bit"), ("worried", "concerned"),
    ("tired", "exhausted"), ("angry", "furious"), ("sad", "down"), ("help", "support"),
    ("try", "attempt"), ("week", "fortnight"), ("day", "afternoon"), ("friends", "mates"),
    ("money", "cash"), ("health", "wellbeing"), ("smoking", "vaping"), ("better", "improved"),
    ("change", "shift"), ("want", "wish"), ("need", "require"), ("going", "heading"),
]
MEAN_TURNS_PER_SESSION = 77  # AnnoMI: 9,699 utterances / 133 sessions ≈ 73; ~13,000 per million turns
# Bump when the generated content changes, so cached workspaces are rebuilt.
GENERATOR_VERSION = 3


@dataclass(slots=True)
class SyntheticSession:
    index: int
    title: str
    topic: str
    mi_quality: str
    category: str
    client_name: str
    client_key: str
    turns: list[tuple[str, str]]  # (role, text), role in therapist/client


# Source sessions #############################################################


@dataclass(slots=True)
class _Source:
    title: str
    topic: str
    mi_quality: str
    turns: list[tuple[str, str]]


def _annomi_sources() -> list[_Source]:
    sessions: dict[str, _Source] = {}
    with ANNOMI_SIMPLE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            src = sessions.get(row["transcript_id"])
            if src is None:
                src = sessions[row["transcript_id"]] = _Source(
                    row["video_title"], row["topic"], row["mi_quality"], []
                )
            text = row["utterance_text"].strip()
            if text:
                src.turns.append((row["interlocutor"], text))
    return [s for s in sessions.values() if len(s.turns) >= 10]


_VOCAB = (
    "I you we it that this so and but because what how when feel think know want need have "
    "been going just really about like okay right yeah mm-hmm sure time day week drink "
    "drinking alcohol smoking health doctor work job family kids wife husband friends sleep "
    "tired worried anxious sad angry stress money change help better worse try trying maybe "
    "sounds important difficult hard easy sense little lot more less again still never always"
).split()


def _vocab_sources(rng: random.Random) -> list[_Source]:
    """AnnoMI-like sessions from a small vocabulary, for machines without the data."""

    def words(role: str) -> int:
        r = rng.random()
        if role == "therapist":
            if r < 0.43:
                return rng.randint(1, 7)
            if r < 0.73:
                return rng.randint(8, 19)
            if r < 0.93:
                return rng.randint(20, 49)
            return rng.randint(50, 130)
        if r < 0.55:
            return rng.randint(1, 7)
        if r < 0.85:
            return rng.randint(8, 19)
        return rng.randint(20, 80)

    out = []
    for i in range(133):
        turns = []
        for pos in range(rng.randint(30, 120)):
            role = "therapist" if pos % 2 == 0 else "client"
            text = " ".join(rng.choice(_VOCAB) for _ in range(words(role)))
            turns.append((role, text[0].upper() + text[1:] + "."))
        out.append(_Source(f"Practice session {i}", "reducing alcohol consumption", "high", turns))
    return out


def _sources(seed: int) -> tuple[str, list[_Source]]:
    if ANNOMI_SIMPLE.exists():
        return "annomi", _annomi_sources()
    return "vocab", _vocab_sources(random.Random(seed))


def source_kind() -> str:
    return "annomi" if ANNOMI_SIMPLE.exists() else "vocab"


# The generator ###############################################################


def _session_lengths(n_turns: int, rng: random.Random) -> list[int]:
    n_sessions = max(1, round(n_turns / MEAN_TURNS_PER_SESSION))
    lengths = [max(4, int(rng.gauss(MEAN_TURNS_PER_SESSION, 30))) for _ in range(n_sessions)]
    # Scale to the exact total so figures are comparable run to run.
    diff = n_turns - sum(lengths)
    i = 0
    while diff:
        step = 1 if diff > 0 else -1
        if lengths[i % n_sessions] + step >= 2:
            lengths[i % n_sessions] += step
            diff -= step
        i += 1
    return lengths


def iter_sessions(n_turns: int, seed: int = 0) -> Iterator[SyntheticSession]:
    """Deterministic synthetic sessions totalling exactly ``n_turns`` turns."""
    rng = random.Random(seed)
    _kind, sources = _sources(seed)
    lengths = _session_lengths(n_turns, rng)
    # A session contributes about min(its length, the window) utterances per
    # pick; weighting picks by max(1, length / window) makes every real
    # utterance about equally likely, so the turn-length mix stays AnnoMI's.
    weights = [max(1.0, len(src.turns) / MEAN_TURNS_PER_SESSION) for src in sources]
    seen: set[bytes] = set()
    clients: list[tuple[str, str]] = []
    for index, length in enumerate(lengths):
        # About three sessions per client, as in a real caseload.
        if not clients or rng.random() < 0.35:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            clients.append((name, f"client-{len(clients) + 1:05d}"))
            client_name, client_key = clients[-1]
        else:
            client_name, client_key = rng.choice(clients[-50:])
        src = rng.choices(sources, weights)[0]
        turns: list[tuple[str, str]] = []
        while len(turns) < length:
            # A cyclic window: every utterance equally likely, ends included.
            start = rng.randrange(len(src.turns))
            window = src.turns[start:] + src.turns[:start]
            turns.extend(window[: length - len(turns)])
            src = rng.choices(sources, weights)[0]
        while True:
            mapping = dict(pair if rng.random() < 0.5 else pair[::-1] for pair in rng.sample(SYNONYMS, 8))
            new_turns = [
                (role, " ".join(mapping.get(w, w) for w in text.split())) for role, text in turns
            ]
            digest = hashlib.blake2b("\x1e".join(t for _, t in new_turns).encode(), digest_size=16).digest()
            if digest not in seen:
                seen.add(digest)
                break
            rng.shuffle(turns)
        yield SyntheticSession(
            index=index,
            title=f"{src.title} #{index}",
            topic=src.topic,
            mi_quality=src.mi_quality,
            category=rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0],
            client_name=client_name,
            client_key=client_key,
            turns=new_turns,
        )


# Files for the import benchmark ##############################################


def write_annomi_corpus(
    out_dir: str | os.PathLike[str], n_files: int = 13_000, seed: int = 0, *, n_turns: int | None = None
) -> list[Path]:
    """Write one AnnoMI-CSV file per synthetic session; returns the files.

    ``n_turns`` defaults to ``n_files * 77`` (≈ 1,000,000 for 13,000 files).
    Files already written with the same parameters are reused.
    """
    out = Path(out_dir)
    n_turns = n_turns if n_turns is not None else n_files * MEAN_TURNS_PER_SESSION
    stamp = out / ".corpus.json"
    params = {"n_files": n_files, "n_turns": n_turns, "seed": seed, "v": GENERATOR_VERSION, "src": source_kind()}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return sorted(out.glob("*/*.csv"))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    paths = []
    for s in iter_sessions(n_turns, seed):
        sub = out / f"{s.index // 1000:03d}"
        sub.mkdir(exist_ok=True)
        path = sub / f"session-{s.index:06d}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(ANNOMI_COLUMNS)
            for pos, (role, text) in enumerate(s.turns):
                secs = pos * 7
                w.writerow(
                    [
                        s.index,
                        s.mi_quality,
                        s.title,
                        f"https://example.invalid/{s.index}",
                        s.topic,
                        pos,
                        role,
                        f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}",
                        text,
                        "reflection" if role == "therapist" else "n/a",
                        "n/a" if role == "therapist" else "neutral",
                    ]
                )
        paths.append(path)
    stamp.write_text(json.dumps(params))
    return paths


# A ready workspace for the curation and dataset benchmarks ###################


def default_cache_root() -> Path:
    """``$ATTUNE_BENCH_CACHE`` or a folder in the system temp dir (never the user's data)."""
    env = os.environ.get("ATTUNE_BENCH_CACHE")
    return Path(env) if env else Path(tempfile.gettempdir()) / "attune-bench-cache"


def _schema_key() -> str:
    """Hash of the schema SQL itself: a migration amended before release keeps
    its name, so the list of names alone would reuse a stale workspace."""
    from core.store import open_store

    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "ws") as store:
        sql = "\n".join(
            r[0] for r in store.conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        )
    return hashlib.sha256(sql.encode()).hexdigest()[:10]


def make_large_workspace(
    path: str | os.PathLike[str] | None = None, n_turns: int = 1_000_000, seed: int = 0
) -> Path:
    """Return a workspace folder holding a realistic ``n_turns``-turn corpus.

    ``path`` is a cache folder (default ``default_cache_root()``); the
    workspace lives in a subfolder named after the parameters, the generator
    version and a hash of the schema's SQL, and is reused when already built.
    Benchmarks that write to it should work on ``copy_workspace(ws, tmp)``.

    Contents: ≈ n_turns/77 transcripts over the six categories + Other with
    client names and keys (~3 sessions per client), AnnoMI's turn-length
    distribution, FTS index, an import log, and decisions by rater ``"me"``
    on ~5 % of the turns (plus some by ``"second-rater"``), with
    ``rater_turn_state`` derived from them when those tables exist.
    """
    root = Path(path) if path is not None else default_cache_root()
    key = f"large-{n_turns}-s{seed}-{source_kind()}-g{GENERATOR_VERSION}-m{_schema_key()}"
    ws = root / key
    if (ws / ".complete").exists():
        os.utime(ws / ".complete")  # in use: see _prune_stale
        _prune_stale(root, key.rsplit("-m", 1)[0], keep=ws)
        return ws
    root.mkdir(parents=True, exist_ok=True)
    # Build beside it and rename into place, so two benchmarks starting at
    # once never see (or delete) each other's half-built workspace.
    building = root / f".{key}.{os.getpid()}.building"
    if building.exists():
        shutil.rmtree(building)
    _build_workspace(building, n_turns, seed)
    (building / ".complete").write_text(json.dumps({"n_turns": n_turns, "seed": seed}))
    if ws.exists() and not (ws / ".complete").exists():
        shutil.rmtree(ws)  # left by an interrupted run of an older version of this code
    try:
        os.rename(building, ws)
    except OSError:  # another process finished first; theirs is identical
        shutil.rmtree(building, ignore_errors=True)
    _prune_stale(root, key.rsplit("-m", 1)[0], keep=ws)
    return ws


STALE_AFTER_S = 3600.0


def _prune_stale(root: Path, prefix: str, keep: Path) -> None:
    """Delete the same corpus built for other schemas (hundreds of MB each at 1M turns).

    Every migration changes the key, so without this each schema change left a
    workspace behind in the temp folder. Only ones unused for an hour go (each
    use touches its ``.complete``): a benchmark of another checkout may still be
    copying a recent one.
    """
    now = time.time()
    for old in root.glob(f"{prefix}-m*"):
        if old == keep or not old.is_dir():
            continue
        done = old / ".complete"
        if done.exists() and now - done.stat().st_mtime > STALE_AFTER_S:
            print(f"removing a benchmark workspace of an older schema: {old}", flush=True)
            shutil.rmtree(old, ignore_errors=True)


def copy_workspace(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """A private writable copy of a (cached) workspace's database."""
    src, dest = Path(src), Path(dest)
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(src / DB_FILENAME, dest / DB_FILENAME)
    os.chmod(dest / DB_FILENAME, 0o600)
    return dest


def _build_workspace(ws: Path, n_turns: int, seed: int) -> None:
    from core.store import open_store

    open_store(ws).close()  # the real schema, every migration applied
    db_file = ws / DB_FILENAME
    conn = sqlite3.connect(db_file, isolation_level=None)
    try:
        # A private file nobody else has open: build fast, then return it to
        # the product's WAL mode.
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -200000")
        # Load with the FTS triggers off and rebuild the index once: same
        # end state, several times faster than a trigger per row.
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'turns'"
        ).fetchall()
        conn.execute("BEGIN")
        for name, _sql in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        _insert_corpus(conn, n_turns, seed)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'turns_fts'").fetchone():
            conn.execute("INSERT INTO turns_fts(turns_fts) VALUES ('rebuild')")
        for _name, sql in triggers:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{db_file}{suffix}")
        if p.exists():
            os.chmod(p, 0o600)


def _columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[bool, bool]]:
    """column → (not null, has default) for ``table``; empty if it doesn't exist."""
    return {
        r[1]: (bool(r[3]), r[4] is not None or bool(r[5]))
        for r in conn.execute(f"PRAGMA table_info({table})")
    }


def _insert_rows(conn: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    """Insert dicts, keeping only the columns the current schema has.

    Later migrations may add columns; a new NOT NULL column without a default
    must be taught here, so say so instead of failing obscurely.
    """
    if not rows:
        return
    cols = _columns(conn, table)
    if not cols:
        return
    missing = [c for c, (notnull, has_default) in cols.items() if notnull and not has_default and c not in rows[0]]
    if missing:
        raise RuntimeError(f"tests/benchmarks/corpus.py does not fill {table}.{missing[0]}; add it")
    names = [c for c in rows[0] if c in cols]
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    conn.executemany(sql, ([r[c] for c in names] for r in rows))


def _insert_corpus(conn: sqlite3.Connection, n_turns: int, seed: int) -> None:
    rng = random.Random(seed + 1)
    at = "2026-01-05T09:00:00+00:00"
    transcripts: list[dict] = []
    turn_rows: list[tuple] = []
    log: list[dict] = []
    turn_id = 0
    decided: list[tuple[int, int]] = []  # (turn_id, transcript_id)
    for s in iter_sessions(n_turns, seed):
        tid = s.index + 1
        transcripts.append(
            {
                "id": tid,
                "title": s.title,
                "source_path": f"/data/sessions/{s.client_key}/session-{s.index:06d}.csv",
                "content_hash": hashlib.sha256(f"{seed}:{s.index}:{s.title}".encode()).hexdigest(),
                "format": "annomi_csv",
                "category": s.category,
                "client_key": s.client_key,
                "client_names": json.dumps([s.client_name]),
                "metadata": json.dumps({"mi_quality": s.mi_quality, "topic": s.topic}, sort_keys=True),
                "imported_at": at,
                "turn_count": len(s.turns),
            }
        )
        log.append(
            {"at": at, "path": transcripts[-1]["source_path"], "status": "imported", "transcript_id": tid, "message": ""}
        )
        for pos, (role, text) in enumerate(s.turns):
            turn_id += 1
            speaker = "THERAPIST" if role == "therapist" else "CLIENT"
            turn_rows.append((turn_id, tid, pos, role, speaker, text, text, len(text.split())))
            if role == "therapist" and rng.random() < 0.10:
                decided.append((turn_id, tid))
        if len(turn_rows) >= 100_000:
            _flush(conn, transcripts, turn_rows, log)
    _flush(conn, transcripts, turn_rows, log)
    _insert_decisions(conn, decided, rng, at)


def _flush(conn: sqlite3.Connection, transcripts: list[dict], turn_rows: list[tuple], log: list[dict]) -> None:
    _insert_rows(conn, "transcripts", transcripts)
    conn.executemany(
        "INSERT INTO turns (id, transcript_id, position, role, speaker, text, raw_text, word_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        turn_rows,
    )
    _insert_rows(conn, "import_log", log)
    transcripts.clear()
    turn_rows.clear()
    log.clear()


def _insert_decisions(conn: sqlite3.Connection, decided: list[tuple[int, int]], rng: random.Random, at: str) -> None:
    """One "do" step per decision, threaded onto each rater's undo stack as the app does."""
    if not _columns(conn, "decisions"):
        return
    reasons = ["identifying information", "clinically inappropriate", "technique not to imitate", "other"]
    batches: list[dict] = []
    decisions: list[dict] = []
    state: dict[tuple[int, str], dict] = {}
    undo_top: dict[str, int | None] = {}
    batch = 0
    for turn_id, tid in decided:
        raters = ["me"] if rng.random() < 0.85 else ["me", "second-rater"]
        for rater in raters:
            batch += 1
            status = rng.choices(["included", "excluded"], [65, 35])[0]
            action = "include" if status == "included" else "exclude"
            rating = rng.randint(1, 5) if status == "included" and rng.random() < 0.6 else None
            flagged = 1 if rng.random() < 0.03 else 0
            reason = rng.choice(reasons) if status == "excluded" and rng.random() < 0.5 else None
            batches.append(
                {
                    "batch": batch,
                    "rater": rater,
                    "kind": "do",
                    "label": action.capitalize(),
                    "target": None,
                    "below": undo_top.get(rater),
                    "undo_top": batch,
                    "redo_top": None,
                    "at": at,
                }
            )
            undo_top[rater] = batch
            row = {
                "turn_id": turn_id,
                "transcript_id": tid,
                "rater": rater,
                "status": status,
                "rating": rating,
                "reason": reason,
                "note": None,
                "flagged": flagged,
            }
            decisions.append({**row, "batch": batch, "action": action, "at": at})
            state[(turn_id, rater)] = {**row, "updated_at": at}
    _insert_rows(conn, "decision_batches", batches)
    _insert_rows(conn, "decisions", decisions)
    _insert_rows(conn, "rater_turn_state", list(state.values()))
