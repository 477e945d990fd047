"""The workspace schema, as named transactional migrations.

Rules (a workspace on a therapist's laptop cannot be rebuilt):
- never edit a migration that has shipped; add a new one below;
- names are ``NNNN_what``, applied in registration order (file order);
- each runs in its own transaction with its record in ``_sqlite_migrations``;
- ``open_store`` backs the file up before applying any pending step and
  refuses a file that has steps this version does not know.
A fixture workspace of every earlier schema lives in ``tests/fixtures/``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils


class _Step:
    """One registered migration (a plain class: a dataclass costs ~1 ms of every start)."""

    __slots__ = ("fn", "name", "transactional")

    def __init__(self, name: str, fn: Callable[[Any], None], transactional: bool = True) -> None:
        self.name, self.fn, self.transactional = name, fn, transactional


class LazyMigrations:
    """The steps, named and in order, and sqlite_utils' ``Migrations`` only when one runs.

    Importing sqlite_utils (and creating its ``Database``, which scans every
    installed package's entry points for plugins) cost ~50 ms of every
    command's start (issue 12). Opening a workspace needs only the step names
    (``names``) and what the file has applied (``applied_names``: one query);
    ``pending``/``apply`` build sqlite_utils' own ``Migrations`` from the same
    steps, so applying one (its own transaction and its record in
    ``_sqlite_migrations``) is exactly sqlite_utils' behaviour.
    """

    migrations_table = "_sqlite_migrations"

    def __init__(self, name: str) -> None:
        self.name = name
        self._migrations: list[_Step] = []
        self._real = None

    def __call__(self, *, name: str, transactional: bool = True) -> Callable[[Callable], Callable]:
        def inner(fn: Callable) -> Callable:
            if any(m.name == name for m in self._migrations):
                raise ValueError(f"Migration '{name}' is already registered in set '{self.name}'")
            self._migrations.append(_Step(name, fn, transactional))
            self._real = None
            return fn

        return inner

    def names(self) -> list[str]:
        return [m.name for m in self._migrations]

    def applied_names(self, conn: sqlite3.Connection) -> list[str]:
        """The steps this file records as applied (any set member, known or not), in order; plain SQL."""
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [self.migrations_table]
        ).fetchone()
        if not has_table:
            return []
        return [row[0] for row in conn.execute(
            f"SELECT name FROM {self.migrations_table} WHERE migration_set = ? ORDER BY rowid", [self.name]
        )]

    def framework(self):  # type: ignore[no-untyped-def]
        """sqlite_utils' ``Migrations`` holding these steps (imported on first use)."""
        if self._real is None:
            from core.store.sqlite_utils_import import load_sqlite_utils

            load_sqlite_utils()
            from sqlite_utils.migrations import Migrations

            real = Migrations(self.name)
            for m in self._migrations:
                real(name=m.name, transactional=m.transactional)(m.fn)
            self._real = real
        return self._real

    def pending(self, db: sqlite_utils.Database) -> list:
        return self.framework().pending(db)

    def apply(self, db: sqlite_utils.Database, *, stop_before: str | Iterable[str] | None = None) -> None:
        self.framework().apply(db, stop_before=stop_before)


MIGRATIONS = LazyMigrations("attune")


def _script(db: sqlite_utils.Database, sql: str) -> None:
    # executescript() would COMMIT the migration's transaction; run statements
    # one by one, joining lines until SQLite says a statement is complete
    # (trigger bodies contain semicolons of their own).
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.conn.execute(pending)
            pending = ""
    if pending.strip():
        db.conn.execute(pending)


# Foundation (issue 2) ########################################################


@MIGRATIONS(name="0001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    _script(
        db,
        """
        CREATE TABLE transcripts (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            source_path TEXT NOT NULL,
            -- sha256 of the parsed raw turns: the same session in another
            -- encoding or container is still "already imported"
            content_hash TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL,
            category TEXT NOT NULL DEFAULT 'Other',
            -- groups one client's sessions so splits never divide a client
            client_key TEXT,
            client_names TEXT NOT NULL DEFAULT '[]',   -- JSON list
            metadata TEXT NOT NULL DEFAULT '{}',       -- JSON object
            imported_at TEXT NOT NULL,
            turn_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX transcripts_category ON transcripts(category);
        CREATE INDEX transcripts_client ON transcripts(client_key);
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('therapist', 'client', 'other')),
            speaker TEXT NOT NULL,
            text TEXT NOT NULL,
            raw_text TEXT NOT NULL,
            word_count INTEGER NOT NULL,
            UNIQUE (transcript_id, position)
        );
        CREATE INDEX turns_role_words ON turns(role, word_count);
        CREATE TABLE import_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            path TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('imported', 'already_imported', 'failed')),
            transcript_id INTEGER REFERENCES transcripts(id) ON DELETE SET NULL,
            message TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL          -- JSON
        )
        """,
    )


@MIGRATIONS(name="0002_turns_search")
def _turns_search(db: sqlite_utils.Database) -> None:
    # External-content FTS5 index over cleaned turn text; triggers keep it in step.
    _script(
        db,
        """
        CREATE VIRTUAL TABLE turns_fts USING fts5(
            text, content='turns', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER turns_fts_update AFTER UPDATE OF text ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO turns_fts(rowid, text) VALUES (new.id, new.text);
        END;
        -- Index the turns that predate this step (an external-content table
        -- starts empty; without this, older sessions would never be found).
        INSERT INTO turns_fts(turns_fts) VALUES ('rebuild')
        """,
    )


# Curation (issue 3) — migrations 0003_* go here ##############################


@MIGRATIONS(name="0003_decisions")
def _decisions(db: sqlite_utils.Database) -> None:
    # The append-only decision log is the source of truth, the undo history
    # and the audit trail. ``rater_turn_state`` is derived from it inside the
    # same transaction as each decision, so reads never replay the log.
    # docs/decision-policy.md explains the undo model and the rater policy.
    _script(
        db,
        """
        -- One row per user step (a key press, a bulk action, an undo, a redo).
        -- Each rater's undo and redo stacks are linked lists threaded through
        -- these rows, so "what would Ctrl+Z undo" is one indexed lookup and
        -- survives restarts without replaying the log.
        CREATE TABLE decision_batches (
            batch INTEGER PRIMARY KEY,
            rater TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('do', 'undo', 'redo')),
            label TEXT NOT NULL,
            -- undo: the step it reverses; redo: the step whose effect it re-applies
            target INTEGER REFERENCES decision_batches(batch),
            -- the entry beneath this one on the stack it was pushed onto
            below INTEGER REFERENCES decision_batches(batch),
            -- this rater's stack tops after this step
            undo_top INTEGER REFERENCES decision_batches(batch),
            redo_top INTEGER REFERENCES decision_batches(batch),
            at TEXT NOT NULL
        );
        CREATE INDEX decision_batches_rater ON decision_batches(rater, batch);
        -- Never UPDATEd or DELETEd (a transcript's deletion cascades, for privacy).
        -- A row holds the rater's complete state of the turn AFTER the row, so
        -- any row answers "what did this rater think then" on its own.
        -- Category changes are rows too: turn_id NULL, category/prev_category set.
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            batch INTEGER NOT NULL REFERENCES decision_batches(batch),
            rater TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN (
                'include', 'exclude', 'rate', 'flag', 'unflag', 'note', 'clear',
                'category', 'undo', 'redo')),
            turn_id INTEGER REFERENCES turns(id) ON DELETE CASCADE,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            status TEXT CHECK (status IN ('included', 'excluded', 'unreviewed')),
            rating INTEGER CHECK (rating BETWEEN 1 AND 5),
            reason TEXT,
            note TEXT,
            flagged INTEGER CHECK (flagged IN (0, 1)),
            category TEXT,
            prev_category TEXT,
            at TEXT NOT NULL,
            CHECK ((turn_id IS NULL) = (category IS NOT NULL)),
            CHECK (turn_id IS NULL OR (status IS NOT NULL AND flagged IS NOT NULL))
        );
        CREATE INDEX decisions_turn ON decisions(turn_id, rater);
        CREATE INDEX decisions_batch ON decisions(batch);
        CREATE INDEX decisions_transcript ON decisions(transcript_id);
        CREATE TABLE rater_turn_state (
            turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            rater TEXT NOT NULL,
            -- copied from turns so per-transcript progress needs no join on 1M turns
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'unreviewed'
                CHECK (status IN ('included', 'excluded', 'unreviewed')),
            rating INTEGER CHECK (rating BETWEEN 1 AND 5),
            reason TEXT,
            note TEXT,
            flagged INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            -- the turn's word count, kept by the triggers below, so progress at any
            -- minimum length reads this small table alone
            word_count INTEGER,
            PRIMARY KEY (turn_id, rater)
        ) WITHOUT ROWID;
        CREATE TRIGGER rater_turn_state_words AFTER INSERT ON rater_turn_state
        WHEN new.word_count IS NULL BEGIN
            UPDATE rater_turn_state SET word_count = (SELECT word_count FROM turns WHERE id = new.turn_id)
            WHERE turn_id = new.turn_id AND rater = new.rater;
        END;
        CREATE TRIGGER turns_words_to_rater_state AFTER UPDATE OF word_count ON turns BEGIN
            UPDATE rater_turn_state SET word_count = new.word_count WHERE turn_id = new.id;
        END;
        -- Eligible therapist turns (at least N words) per transcript, and their J/K
        -- order, from this index alone: a range scan reads only the long turns.
        CREATE INDEX turns_role_words_transcript ON turns(role, word_count, transcript_id, position);
        -- The decision policy across raters (documented in docs/decision-policy.md):
        -- any rater's exclusion wins; otherwise included if any rater included;
        -- rating is the mean of the raters' ratings; flagged if anyone flagged.
        CREATE VIEW turn_effective AS
            SELECT turn_id,
                   CASE WHEN max(status = 'excluded') THEN 'excluded'
                        WHEN max(status = 'included') THEN 'included'
                        ELSE 'unreviewed' END AS status,
                   avg(rating) AS rating,
                   max(flagged) AS flagged
            FROM rater_turn_state GROUP BY turn_id
        """,
    )


# Datasets (issue 4) — migrations 0004_* go here ##############################


@MIGRATIONS(name="0004_datasets")
def _datasets(db: sqlite_utils.Database) -> None:
    _script(
        db,
        """
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            rules TEXT NOT NULL,            -- JSON: every rule that produced it
            seed INTEGER NOT NULL,
            counts TEXT NOT NULL,           -- JSON: per split and category
            content_hash TEXT NOT NULL,     -- sha256 over the exported example files
            system_instruction TEXT NOT NULL DEFAULT '',
            -- the dataset whose frozen test split this one reuses, if any
            test_from INTEGER REFERENCES datasets(id),
            test_frozen INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE dataset_examples (
            -- unique across datasets, e.g. "d-000123": a reply file alone says
            -- which items it answers
            example_id TEXT PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
            turn_id INTEGER NOT NULL REFERENCES turns(id),
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            category TEXT NOT NULL,
            target_words INTEGER NOT NULL,
            context_turn_ids TEXT NOT NULL  -- JSON list, oldest first
        );
        CREATE INDEX dataset_examples_dataset ON dataset_examples(dataset_id, split)
        """,
    )


# Evaluation (issue 5) — migrations 0005_* go here ############################


@MIGRATIONS(name="0005_responses")
def _responses(db: sqlite_utils.Database) -> None:
    # A *system* is a named source of replies (an imported file, a base or a
    # tuned model's generations). Its kind and provenance are data, not
    # schema, so a generator can add systems later without a migration. The
    # therapist is built in (its replies are the references) and never stored.
    # Metric inputs (VADER is the cost) are cached beside the text they
    # describe, never in a table of their own, so deleting a transcript, a
    # dataset or a system deletes them too; ``scorer`` names the VADER and
    # metric version that computed them (NULL: not computed yet).
    _script(
        db,
        """
        CREATE TABLE systems (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            provenance TEXT NOT NULL DEFAULT '{}',   -- JSON object
            created_at TEXT NOT NULL
        );
        CREATE TABLE responses (
            system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
            example_id TEXT NOT NULL REFERENCES dataset_examples(example_id) ON DELETE CASCADE,
            text TEXT NOT NULL DEFAULT '',
            -- ok: usable; empty: the source gave no text; blocked: a safety
            -- filter withheld it. Only 'ok' replies are scored.
            state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'empty', 'blocked')),
            detail TEXT NOT NULL DEFAULT '',
            provenance TEXT NOT NULL DEFAULT '{}',   -- JSON: file and line, or request
            created_at TEXT NOT NULL,
            scorer TEXT,
            words INTEGER,
            sentences INTEGER,
            compound REAL,
            questions INTEGER,
            PRIMARY KEY (system_id, example_id)
        ) WITHOUT ROWID;
        CREATE INDEX responses_example ON responses(example_id);
        CREATE TABLE reference_features (
            turn_id INTEGER PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
            scorer TEXT NOT NULL,
            words INTEGER NOT NULL,
            sentences INTEGER NOT NULL,
            compound REAL NOT NULL,
            questions INTEGER NOT NULL
        );
        -- An edited turn is scored again from its new text.
        CREATE TRIGGER reference_features_stale AFTER UPDATE OF text ON turns BEGIN
            DELETE FROM reference_features WHERE turn_id = new.id;
        END
        """,
    )


# Exclusions that hold everywhere (issue 10) — migration 0006_* ################


@MIGRATIONS(name="0006_redactions")
def _redactions(db: sqlite_utils.Database) -> None:
    # A redaction hides a span of a turn's text (character offsets into
    # turns.text) from everything that leaves the workspace. Its log is a table
    # of its own, tied to the decision step (batch) that made it, so undo and
    # redo go through decision_batches exactly as for include/exclude, and the
    # decisions table (whose action CHECK would need a rebuild) stays as it is.
    # ``redacted_spans`` is the current state, derived in the same transaction.
    # Client turns may now be excluded too: rater_turn_state.word_count stays
    # NULL for them, so progress (which counts therapist turns of N+ words from
    # that table alone) never counts a client turn.
    _script(
        db,
        """
        CREATE TABLE redactions (
            id INTEGER PRIMARY KEY,
            batch INTEGER NOT NULL REFERENCES decision_batches(batch),
            rater TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('redact', 'unredact', 'undo', 'redo')),
            turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            reason TEXT NOT NULL,
            -- after this row: is the span redacted for this rater
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            at TEXT NOT NULL,
            CHECK (0 <= start_char AND start_char < end_char)
        );
        CREATE INDEX redactions_span ON redactions(turn_id, rater, start_char, end_char);
        CREATE INDEX redactions_batch ON redactions(batch);
        CREATE INDEX redactions_transcript ON redactions(transcript_id);
        CREATE TABLE redacted_spans (
            turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            rater TEXT NOT NULL,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            PRIMARY KEY (turn_id, rater, start_char, end_char)
        ) WITHOUT ROWID;
        DROP TRIGGER rater_turn_state_words;
        CREATE TRIGGER rater_turn_state_words AFTER INSERT ON rater_turn_state
        WHEN new.word_count IS NULL BEGIN
            UPDATE rater_turn_state SET word_count = (
                SELECT word_count FROM turns WHERE id = new.turn_id AND role = 'therapist')
            WHERE turn_id = new.turn_id AND rater = new.rater;
        END;
        DROP TRIGGER turns_words_to_rater_state;
        CREATE TRIGGER turns_words_to_rater_state AFTER UPDATE OF word_count, role ON turns BEGIN
            UPDATE rater_turn_state
            SET word_count = CASE WHEN new.role = 'therapist' THEN new.word_count END
            WHERE turn_id = new.id;
        END
        """,
    )


# Dataset rules, splits, stable ids (issue 10) — migration 0007_* ###############


@MIGRATIONS(name="0007_stable_example_ids")
def _stable_example_ids(db: sqlite_utils.Database) -> None:
    # Example ids are now derived from what the example is (the source
    # transcript's content hash and the target's position), so the same
    # target has the same id in every dataset that holds it: the key becomes
    # (dataset, example id). Replies are keyed by example id alone and follow
    # their item into a rebuilt dataset; they go when the last dataset holding
    # their item goes (trigger below), as the old ON DELETE CASCADE did.
    # Tables are rebuilt rather than altered (SQLite cannot change a key);
    # responses first, so dropping the old examples table cascades nothing.
    _script(
        db,
        """
        CREATE TABLE responses_new (
            system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
            example_id TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'empty', 'blocked')),
            detail TEXT NOT NULL DEFAULT '',
            provenance TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            scorer TEXT,
            words INTEGER,
            sentences INTEGER,
            compound REAL,
            questions INTEGER,
            PRIMARY KEY (system_id, example_id)
        ) WITHOUT ROWID;
        INSERT INTO responses_new SELECT system_id, example_id, text, state, detail, provenance,
            created_at, scorer, words, sentences, compound, questions FROM responses;
        DROP TABLE responses;
        ALTER TABLE responses_new RENAME TO responses;
        CREATE INDEX responses_example ON responses(example_id);
        CREATE TABLE dataset_examples_new (
            -- derived from the source, e.g. "ex-3f9a…": the same target keeps
            -- its id across builds and datasets
            example_id TEXT NOT NULL,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
            turn_id INTEGER NOT NULL REFERENCES turns(id),
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            category TEXT NOT NULL,
            target_words INTEGER NOT NULL,
            context_turn_ids TEXT NOT NULL,  -- JSON list, oldest first
            PRIMARY KEY (dataset_id, example_id)
        );
        INSERT INTO dataset_examples_new SELECT example_id, dataset_id, split, turn_id, transcript_id,
            category, target_words, context_turn_ids FROM dataset_examples;
        DROP TABLE dataset_examples;
        ALTER TABLE dataset_examples_new RENAME TO dataset_examples;
        CREATE INDEX dataset_examples_dataset ON dataset_examples(dataset_id, split);
        CREATE INDEX dataset_examples_example ON dataset_examples(example_id);
        CREATE INDEX dataset_examples_transcript ON dataset_examples(transcript_id);
        CREATE TRIGGER responses_orphaned AFTER DELETE ON dataset_examples
        WHEN NOT EXISTS (SELECT 1 FROM dataset_examples WHERE example_id = old.example_id) BEGIN
            DELETE FROM responses WHERE example_id = old.example_id;
        END;
        -- Earlier versions imported the demonstration sessions on every first
        -- start, untagged, from the app's own resources/demo folder; tag them
        -- now so datasets leave them out by default like newly imported demos.
        UPDATE transcripts SET metadata = json_set(metadata, '$.demo', json('true'))
        WHERE (source_path LIKE '%/resources/demo/%.txt' OR source_path LIKE '%\\resources\\demo\\%.txt')
          AND EXISTS (SELECT 1 FROM settings WHERE key = 'demo_imported' AND value = 'true')
        """,
    )


# Tuning jobs (issue 14) — migration 0009_* ######################################


@MIGRATIONS(name="0009_tuning_jobs")
def _tuning_jobs(db: sqlite_utils.Database) -> None:
    # One row per tuning run, whatever the backend (local LoRA, Vertex): the
    # row, not the process, is the job, so it follows restarts of the app.
    # The dataset may be deleted later; its hash keeps the provenance.
    _script(
        db,
        """
        CREATE TABLE tuning_jobs (
            id INTEGER PRIMARY KEY,
            backend TEXT NOT NULL,
            dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
            dataset_hash TEXT NOT NULL,
            base_model TEXT NOT NULL,
            base_model_hash TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL CHECK (state IN ('pending','running','succeeded','failed','cancelled')),
            settings TEXT NOT NULL DEFAULT '{}',
            metrics TEXT NOT NULL DEFAULT '{}',
            remote_name TEXT,
            log_path TEXT,
            output TEXT,
            system_name TEXT,
            error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX tuning_jobs_state ON tuning_jobs(state);
        CREATE INDEX tuning_jobs_dataset ON tuning_jobs(dataset_id)
        """,
    )


# Egress log (issue 15) — migration 0010_* ######################################


@MIGRATIONS(name="0010_egress_log")
def _egress_log(db: sqlite_utils.Database) -> None:
    # Every time transcript text leaves the machine (an upload, a generation
    # run) it is written here first, by core/egress.py alone. The log is
    # evidence for the clinician, so the schema refuses to change or drop a row.
    _script(
        db,
        """
        CREATE TABLE egress_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,            -- upload | generation | count_tokens
            destination TEXT NOT NULL,     -- e.g. gs://bucket/prefix/train.jsonl, a model or endpoint
            what TEXT NOT NULL,            -- e.g. dataset name and file
            content_hash TEXT NOT NULL,    -- sha256 of exactly what was sent
            bytes INTEGER NOT NULL,
            examples INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'  -- JSON: project, region, scan counts, confirmation
        );
        CREATE INDEX egress_log_at ON egress_log(at);
        CREATE TRIGGER egress_log_no_update BEFORE UPDATE ON egress_log BEGIN
            SELECT RAISE(ABORT, 'the egress log is append-only');
        END;
        CREATE TRIGGER egress_log_no_delete BEFORE DELETE ON egress_log BEGIN
            SELECT RAISE(ABORT, 'the egress log is append-only');
        END
        """,
    )


# Blinded A/B preference sessions (issue 16) — migration 0011_* ###############


@MIGRATIONS(name="0011_ab_sessions")
def _ab_sessions(db: sqlite_utils.Database) -> None:
    # Which system wrote which side lives in these tables and in
    # core/preference/sessions.py only; nothing that leaves for a rater (a
    # package, the rating screen) reads left_system/right_system.
    # Reply texts are copied in at setup so a replaced reply file cannot change
    # what half of the raters saw; the context and the therapist's own reply are
    # rendered afresh each time through core/datasets/items.py, so an exclusion
    # or redaction made later still holds.
    _script(
        db,
        """
        CREATE TABLE ab_sessions (
            id INTEGER PRIMARY KEY,
            -- random, carried by every package so a merge can check where it belongs
            token TEXT NOT NULL UNIQUE,
            dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
            dataset_name TEXT NOT NULL,
            seed INTEGER NOT NULL,
            systems TEXT NOT NULL,          -- JSON list, in the order given
            raters TEXT NOT NULL,           -- JSON list
            settings TEXT NOT NULL DEFAULT '{}',  -- JSON: items, category, pairing, repeat share, leaks
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'locked')),
            created_at TEXT NOT NULL,
            locked_at TEXT
        );
        CREATE TABLE ab_items (
            session_id INTEGER NOT NULL REFERENCES ab_sessions(id) ON DELETE CASCADE,
            example_id TEXT NOT NULL,
            category TEXT NOT NULL,
            -- identity-leak findings kept on purpose ('' when none)
            leak_flag TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (session_id, example_id)
        ) WITHOUT ROWID;
        CREATE TABLE ab_replies (
            session_id INTEGER NOT NULL REFERENCES ab_sessions(id) ON DELETE CASCADE,
            example_id TEXT NOT NULL,
            system TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (session_id, example_id, system)
        ) WITHOUT ROWID;
        CREATE TABLE ab_assignments (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES ab_sessions(id) ON DELETE CASCADE,
            rater TEXT NOT NULL,
            position INTEGER NOT NULL,      -- order shown to this rater
            example_id TEXT NOT NULL,
            left_system TEXT NOT NULL,
            right_system TEXT NOT NULL,
            -- opaque id a package and the screen use instead of anything above
            item_key TEXT NOT NULL UNIQUE,
            -- a repeat shows an earlier assignment again with sides swapped
            repeat_of INTEGER REFERENCES ab_assignments(id),
            UNIQUE (session_id, rater, position)
        );
        CREATE INDEX ab_assignments_rater ON ab_assignments(session_id, rater, position);
        -- Append-only: a vote and its undo are both rows; the latest row of an
        -- assignment says whether it has a vote now.
        CREATE TABLE ab_votes (
            id INTEGER PRIMARY KEY,
            assignment_id INTEGER NOT NULL REFERENCES ab_assignments(id) ON DELETE CASCADE,
            action TEXT NOT NULL CHECK (action IN ('vote', 'undo')),
            choice TEXT CHECK (choice IN ('a', 'b', 't', 'z', 's')),
            comment TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'screen',   -- screen | package FILE
            at TEXT NOT NULL,
            CHECK ((action = 'vote') = (choice IS NOT NULL))
        );
        CREATE INDEX ab_votes_assignment ON ab_votes(assignment_id, id)
        """,
    )


# Import cost (issue 12) — migration 0012_* ##################################


@MIGRATIONS(name="0012_import_cost")
def _import_cost(db: sqlite_utils.Database) -> None:
    # The turn indexes cost an import most of its database time: every turn went
    # into turns_role_words(role, word_count) and turns_role_words_transcript(role,
    # word_count, transcript_id, position) (0003) at a point in the middle of each,
    # ~2.5 s of CPU per million turns for the second alone. Every query that reads
    # them asks for therapist turns (``role = 'therapist'``, written out, so a partial
    # index serves it): the longer index now holds therapist turns only, keyed
    # (word_count, transcript_id, position), half the entries and shorter keys, and
    # still answers "therapist turns of N+ words" with a range scan, covering.
    # The first index was its prefix and goes. Counting turns per role
    # (transcripts.stats) reads the therapist index, a small index of the rare
    # ``other`` turns, and the total from the (transcript_id, position) index.
    #
    # The full-text index without its per-turn token counts (columnsize=0): they
    # serve only bm25() ranking, which nothing uses (search orders by turn), and
    # writing them cost every imported turn a row of turns_fts_docsize (~6% of the
    # import). snippet() counts a shown turn's tokens itself instead. Same tokenizer,
    # same content table; the triggers on turns (0002) keep feeding it.
    _script(
        db,
        """
        DROP INDEX IF EXISTS turns_role_words;
        DROP INDEX turns_role_words_transcript;
        CREATE INDEX turns_role_words_transcript ON turns(word_count, transcript_id, position)
            WHERE role = 'therapist';
        CREATE INDEX turns_other_role ON turns(transcript_id) WHERE role = 'other';
        DROP TABLE turns_fts;
        CREATE VIRTUAL TABLE turns_fts USING fts5(
            text, content='turns', content_rowid='id', tokenize='unicode61 remove_diacritics 2',
            columnsize=0
        );
        INSERT INTO turns_fts(turns_fts) VALUES ('rebuild')
        """,
    )
    _check_without_in_list(db.conn, "turns", _ROLE_CHECK_IN, _ROLE_CHECK_OR)


# turns.role's CHECK as SQLite evaluates it fastest. ``role IN ('therapist', 'client',
# 'other')`` builds a temporary table of the three values for every row inserted
# (an executemany runs the statement once per row): 0.55 s of CPU per 300k imported
# turns, a third of the turns' whole insert cost. Three comparisons accept and refuse
# exactly the same values (NULL included: NOT NULL refuses it before either).
_ROLE_CHECK_IN = "CHECK (role IN ('therapist', 'client', 'other'))"
_ROLE_CHECK_OR = "CHECK (role = 'therapist' OR role = 'client' OR role = 'other')"


def _check_without_in_list(conn: sqlite3.Connection, table: str, old: str, new: str) -> None:
    """Rewrite one CHECK in ``table``'s stored CREATE TABLE, the way SQLite documents for
    constraint changes that leave the file format alone (lang_altertable.html,
    "Making Other Kinds Of Table Schema Changes"): every stored row already meets
    the equivalent rule, so no table is rebuilt. Inside the migration's transaction."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()
    if row is None or row[0].count(old) != 1:
        return
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        try:
            conn.execute(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", [row[0].replace(old, new), table]
            )
        except sqlite3.DatabaseError:
            return  # a SQLite built "defensive" refuses: the IN form stays (the same rule, slower)
        conn.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


# Dataset insert cost (issue 12) — migration 0013_* ############################


@MIGRATIONS(name="0013_dataset_insert_cost")
def _dataset_insert_cost(db: sqlite_utils.Database) -> None:
    # A build stores tens of thousands of dataset_examples rows at once (1M turns),
    # each checked against the split CHECK below (22k rows: 0.25 s of CPU with the
    # IN list, 0.21 s with comparisons). The (dataset_id, split) index
    # stays although the primary key finds a dataset's rows: without it the
    # listings' per-split counts read every row of every dataset (6x slower with
    # three datasets at 1M turns) to save a build about 0.02 s.
    # tests/core/test_dataset_query_plans.py pins the plans of every read.
    _check_without_in_list(db.conn, "dataset_examples", _SPLIT_CHECK_IN, _SPLIT_CHECK_OR)


# dataset_examples.split's CHECK without an IN list, as 0012 did for turns.role: the
# list becomes a temporary table for every row inserted; three comparisons accept and
# refuse the same values (NOT NULL refuses NULL before either).
_SPLIT_CHECK_IN = "CHECK (split IN ('train', 'validation', 'test'))"
_SPLIT_CHECK_OR = "CHECK (split = 'train' OR split = 'validation' OR split = 'test')"
