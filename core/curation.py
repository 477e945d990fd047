"""Curation: deciding, turn by turn, what a model may learn from. Qt-free.

Every mutation here is one user step: it validates first, then appends one
batch to the decision log inside one ``BEGIN IMMEDIATE`` transaction, and
returns only after COMMIT (WAL, synchronous=FULL), so a decision the screen
shows as made survives a crash or a kill. Each step is one undo step, per
rater; undo and redo append compensating rows and never rewrite the log.
The model, and the policy when raters disagree, are in docs/decision-policy.md.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from core.changes import OpChanges, OpChangesWith
from core.errors import NotFoundError, UsageError, ValidationError
from core.ids import TranscriptId, TurnId
from core.models import Category
from core.store import Store
from core.store import curation_queries as queries
from core.store import decisions as log
from core.store import transcripts as transcript_store
from core.store.curation_queries import (
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    STATUS_FILTERS,
    SearchHit,
    TranscriptSummary,
    TurnState,
)
from core.models import DecisionRecord, ExcludeReason, RaterState, RedactionRecord, Status
from core.store.decisions import Span, TurnRef
from core.store.settings import get_setting, set_setting

__all__ = [
    "DEFAULT_MIN_WORDS",
    "SNIPPET_CLOSE",
    "SNIPPET_OPEN",
    "STATUS_FILTERS",
    "DecisionRecord",
    "ExcludeReason",
    "RaterState",
    "RedactionRecord",
    "Span",
    "SearchHit",
    "Status",
    "TranscriptSummary",
    "TurnState",
    "UndoStatus",
    "clear",
    "decision_log",
    "default_rater",
    "eligible_turn_ids",
    "exclude",
    "fts_query",
    "get_current_rater",
    "history",
    "include",
    "rate",
    "raters",
    "redact",
    "redacted_spans",
    "redaction_history",
    "redaction_log",
    "redo",
    "search",
    "set_category",
    "set_category_where",
    "set_current_rater",
    "set_flag",
    "set_note",
    "transcript_summaries",
    "turn_text",
    "turn_state",
    "turn_states",
    "undo",
    "undo_status",
    "unredact",
]

# The paper's rule: therapist replies of at least 50 words are training targets.
DEFAULT_MIN_WORDS = 50
RATER_SETTING = "curation.rater"
MAX_RATER_CHARS = 80
MAX_NOTE_CHARS = 10_000
MAX_SEARCH_WORDS = 16

_DECISIONS = OpChanges(decisions=True)
_NOTHING = OpChanges()


@dataclass(frozen=True, slots=True)
class UndoStatus:
    undo_label: str | None  # what Ctrl+Z would undo, None if nothing
    redo_label: str | None


# Validation ###################################################################


def check_rater(rater: object) -> str:
    if not isinstance(rater, str):
        raise ValidationError(f"rater: must be a name, got {type(rater).__name__}")
    name = " ".join(rater.split())
    if not name:
        raise ValidationError("rater: the name is empty")
    if len(name) > MAX_RATER_CHARS:
        raise ValidationError(f"rater: the name is longer than {MAX_RATER_CHARS} characters")
    if any(not ch.isprintable() for ch in name):
        raise ValidationError("rater: the name contains control characters")
    _check_encodable("rater", name)
    return name


def _check_rating(rating: object) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError(f"rating: must be a whole number from 1 to 5, got {rating!r}")
    return rating


def _check_reason(reason: object) -> ExcludeReason:
    try:
        return ExcludeReason(reason)
    except ValueError:
        valid = ", ".join(r.value for r in ExcludeReason)
        raise ValidationError(f"reason: unknown exclusion reason {reason!r} (valid: {valid})") from None


def _check_note(note: object) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValidationError(f"note: must be text, got {type(note).__name__}")
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationError(f"note: longer than {MAX_NOTE_CHARS} characters")
    _check_encodable("note", note)
    return note.strip() or None


def _check_encodable(field: str, text: str) -> None:
    # A lone surrogate (from a broken clipboard or file) cannot be stored as UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{field}: contains characters that are not valid text") from None


def _unique(ids: Iterable[int]) -> list:
    if isinstance(ids, (str, bytes, int)):
        raise UsageError(f"expected a list of ids, got {type(ids).__name__}")
    return list(dict.fromkeys(ids))


def _refs(store: Store, turn_ids: Sequence[TurnId], *, any_role: bool) -> list[TurnRef]:
    """The turns, checked: including and rating are for therapist turns (training
    targets) only; excluding, clearing, flags and notes work on any turn, because a
    client's words can identify them as surely as a therapist's."""
    refs = log.turn_refs(store, turn_ids)
    if not any_role:
        for tid in turn_ids:
            if refs[tid].role != "therapist":
                raise UsageError(
                    f"turn {tid} is a {refs[tid].role} turn; only therapist turns can be included or "
                    "rated (any turn can be excluded or redacted)"
                )
    return [refs[tid] for tid in turn_ids]


def _turns(n: int) -> str:
    return "turn" if n == 1 else f"{n} turns"


# Mutations ####################################################################


def _step(
    store: Store,
    turn_ids: Sequence[TurnId],
    *,
    rater: str,
    action: str,
    label: Callable[[int], str],
    change: Callable[[RaterState], RaterState],
    any_role: bool = False,
) -> OpChanges:
    rater = check_rater(rater)
    ids = _unique(turn_ids)
    if not ids:
        return _NOTHING
    with store.transaction():
        refs = _refs(store, ids, any_role=any_role)
        rows = []
        for ref in refs:
            old = log.rater_state(store, ref.turn_id, rater)
            new = change(old)
            if new != old:
                rows.append((ref, new))
        if not rows:
            # Re-pressing a key that changes nothing is not a step to undo.
            return _NOTHING
        batch = _push_do(store, rater, label(len(rows)))
        log.append_turn_rows(store, batch=batch, rater=rater, action=action, rows=rows, at=log.now_utc())
    return _DECISIONS


def _push_do(store: Store, rater: str, label: str) -> int:
    latest = log.latest_batch(store, rater)
    batch = log.next_batch(store)
    log.append_batch(
        store,
        batch=batch,
        rater=rater,
        kind="do",
        label=label,
        target=None,
        below=latest.undo_top if latest else None,
        undo_top=batch,
        redo_top=None,  # a new step ends the redo chain, as in every editor
        at=log.now_utc(),
    )
    return batch


def include(store: Store, turn_ids: Sequence[TurnId], *, rater: str) -> OpChanges:
    return _step(
        store, turn_ids, rater=rater, action="include",
        label=lambda n: f"Include {_turns(n)}",
        change=lambda s: replace(s, status=Status.INCLUDED, reason=None),
    )


def exclude(
    store: Store,
    turn_ids: Sequence[TurnId],
    *,
    rater: str,
    reason: ExcludeReason,
    note: str | None = None,
) -> OpChanges:
    """Exclude with a reason; ``note`` replaces the rater's note when given."""
    why = _check_reason(reason)
    text = _check_note(note)

    def change(s: RaterState) -> RaterState:
        s = replace(s, status=Status.EXCLUDED, reason=why)
        return replace(s, note=text) if text is not None else s

    return _step(
        store, turn_ids, rater=rater, action="exclude",
        label=lambda n: f"Exclude {_turns(n)} ({why.value})", change=change, any_role=True,
    )


def rate(store: Store, turn_ids: Sequence[TurnId], *, rater: str, rating: int) -> OpChanges:
    """Set the 1–5 quality rating; the include/exclude status is left alone."""
    value = _check_rating(rating)
    return _step(
        store, turn_ids, rater=rater, action="rate",
        label=lambda n: f"Rate {_turns(n)} {value}",
        change=lambda s: replace(s, rating=value),
    )


def set_flag(store: Store, turn_ids: Sequence[TurnId], *, rater: str, flagged: bool) -> OpChanges:
    flag = bool(flagged)
    return _step(
        store, turn_ids, rater=rater, action="flag" if flag else "unflag",
        label=lambda n: f"{'Flag' if flag else 'Unflag'} {_turns(n)}",
        change=lambda s: replace(s, flagged=flag), any_role=True,
    )


def set_note(store: Store, turn_id: TurnId, *, rater: str, note: str) -> OpChanges:
    """Replace the rater's note on the turn; empty text removes it."""
    text = _check_note(note)
    return _step(
        store, [turn_id], rater=rater, action="note",
        label=lambda n: "Edit note", change=lambda s: replace(s, note=text), any_role=True,
    )


def clear(store: Store, turn_ids: Sequence[TurnId], *, rater: str) -> OpChanges:
    """Back to unreviewed: drops status, reason and rating; keeps the note and flag."""
    return _step(
        store, turn_ids, rater=rater, action="clear",
        label=lambda n: f"Clear decision on {_turns(n)}",
        change=lambda s: replace(s, status=Status.UNREVIEWED, reason=None, rating=None),
        any_role=True,
    )


def _check_span(store: Store, turn_id: TurnId, start: object, end: object) -> tuple[int, int]:
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"redaction {name}: must be a whole number, got {value!r}")
    assert isinstance(start, int) and isinstance(end, int)
    length = len(log.turn_text(store, turn_id))
    if not 0 <= start < end <= length:
        raise ValidationError(
            f"redaction: characters {start}-{end} are not a span of turn {turn_id} "
            f"(its text has {length} characters; start must be below end)"
        )
    return start, end


def redact(
    store: Store,
    turn_id: TurnId,
    start: int,
    end: int,
    *,
    rater: str,
    reason: ExcludeReason = ExcludeReason.IDENTIFYING,
) -> OpChanges:
    """Hide ``text[start:end]`` of a turn (any role) from every export and prompt, as one step.

    Offsets are Python string offsets (code points) into the turn's cleaned
    text; exports show ``[redacted]`` in its place. Any rater's redaction holds.
    """
    rater = check_rater(rater)
    why = _check_reason(reason)
    with store.transaction():
        ref = log.turn_refs(store, [turn_id])[turn_id]
        start, end = _check_span(store, turn_id, start, end)
        if log.span_active(store, turn_id, rater, start, end):
            return _NOTHING
        batch = _push_do(store, rater, f"Redact {end - start} characters of turn {turn_id}")
        log.append_redaction_rows(store, batch=batch, rater=rater, action="redact",
                                  rows=[(ref, start, end, why.value, True)], at=log.now_utc())
    return _DECISIONS


def unredact(store: Store, turn_id: TurnId, start: int, end: int, *, rater: str) -> OpChanges:
    """Remove this rater's own redaction of exactly ``start``-``end`` (another rater's stays)."""
    rater = check_rater(rater)
    with store.transaction():
        ref = log.turn_refs(store, [turn_id])[turn_id]
        if not log.span_active(store, turn_id, rater, start, end):
            return _NOTHING
        reason = next(s.reason for s in log.spans_of(store, [turn_id])
                      if s.rater == rater and (s.start, s.end) == (start, end))
        batch = _push_do(store, rater, f"Remove redaction from turn {turn_id}")
        log.append_redaction_rows(store, batch=batch, rater=rater, action="unredact",
                                  rows=[(ref, start, end, reason, False)], at=log.now_utc())
    return _DECISIONS


def turn_text(store: Store, turn_id: TurnId) -> str:
    """The turn's cleaned text: what redaction offsets point into."""
    return log.turn_text(store, turn_id)


def redacted_spans(store: Store, turn_ids: Iterable[TurnId]) -> list[Span]:
    """Every rater's redactions in these turns, by turn and offset (the union is what is hidden)."""
    return log.spans_of(store, _unique(turn_ids))


def redaction_history(store: Store, turn_id: TurnId) -> list[RedactionRecord]:
    return log.redaction_history(store, turn_id)


def redaction_log(store: Store) -> Iterator[RedactionRecord]:
    """Every redaction row, oldest first, streamed (the decision log's companion)."""
    return log.iter_redaction_log(store)


def set_category(
    store: Store, transcript_ids: Sequence[TranscriptId], category: Category, *, rater: str
) -> OpChanges:
    """Set the symptom category of several transcripts as one logged, undoable step."""
    rater = check_rater(rater)
    try:
        cat = Category(category)
    except ValueError:
        raise ValidationError(f"category: unknown category {category!r}") from None
    ids = _unique(transcript_ids)
    if not ids:
        return _NOTHING
    with store.transaction():
        current = log.transcript_categories(store, ids)
        rows = [(tid, cat.value, current[tid]) for tid in ids if current[tid] != cat.value]
        if not rows:
            return _NOTHING
        n = len(rows)
        what = "transcript" if n == 1 else f"{n} transcripts"
        batch = _push_do(store, rater, f"Set category of {what} to {cat.value}")
        log.append_category_rows(
            store, batch=batch, rater=rater, action="category", rows=rows, at=log.now_utc()
        )
    return OpChanges(transcripts=True)


def set_category_where(
    store: Store, where: Mapping[str, str], category: Category, *, rater: str
) -> OpChangesWith[list[TranscriptId]]:
    """Set the category of every transcript whose source metadata has each KEY=VALUE.

    One transaction and one logged, undoable step however many match (the
    matching transcripts are returned); no match is an error naming the known
    values, since a typo would otherwise look like success.
    """
    with store.transaction():
        ids = transcript_store.transcript_ids_where(store, where)
        if not ids:
            hints = []
            for key in where:
                values = [v for v, _ in transcript_store.metadata_values(store, key)]
                known = ", ".join(values[:12]) + (", …" if len(values) > 12 else "")
                hints.append(f"{key}: {known}" if values else f"no transcript has {key!r}")
            raise NotFoundError(
                f"no transcript has {', '.join(f'{k}={v}' for k, v in where.items())} ({'; '.join(hints)})"
            )
        changes = set_category(store, ids, category, rater=rater)
    return OpChangesWith(changes, ids)


# Undo and redo ################################################################


def _replay(
    store: Store, *, batch: int, rater: str, action: str, source: int, undoing: bool
) -> OpChanges:
    """Append rows to ``batch`` that undo (or re-apply) every row of ``source``."""
    rows = log.batch_rows(store, source)
    at = log.now_utc()
    turn_rows: list[tuple[TurnRef, RaterState]] = []
    category_rows: list[tuple[TranscriptId, str, str]] = []
    first_id = rows[0].id if rows else 0
    refs = log.turn_refs(store, [r.turn_id for r in rows if r.turn_id is not None])
    categories = log.transcript_categories(
        store, [r.transcript_id for r in rows if r.turn_id is None]
    )
    for r in rows:
        if r.turn_id is None:
            assert r.category is not None and r.prev_category is not None
            target = r.prev_category if undoing else r.category
            category_rows.append((r.transcript_id, target, categories[r.transcript_id]))
        else:
            # Undo restores the state the source step found: the rater's
            # previous log row for the turn. Redo restores what it left.
            state = log.state_before(store, r.turn_id, rater, first_id) if undoing else r.state()
            turn_rows.append((refs[r.turn_id], state))
    log.append_turn_rows(store, batch=batch, rater=rater, action=action, rows=turn_rows, at=at)
    log.append_category_rows(store, batch=batch, rater=rater, action=action, rows=category_rows, at=at)
    spans = log.batch_redactions(store, source)
    span_refs = log.turn_refs(store, [r.turn_id for r in spans])
    span_rows = [
        (span_refs[r.turn_id], r.start, r.end, r.reason,
         log.span_active_before(store, r.turn_id, rater, r.start, r.end, r.id) if undoing else r.active)
        for r in spans
    ]
    log.append_redaction_rows(store, batch=batch, rater=rater, action=action, rows=span_rows, at=at)
    return OpChanges(decisions=bool(turn_rows or span_rows), transcripts=bool(category_rows))


def undo(store: Store, *, rater: str) -> OpChangesWith[str | None]:
    """Reverse this rater's latest step; the value is its label, None if nothing to undo."""
    rater = check_rater(rater)
    with store.transaction():
        latest = log.latest_batch(store, rater)
        if latest is None or latest.undo_top is None:
            return OpChangesWith(_NOTHING, None)
        step = log.get_batch(store, latest.undo_top)
        batch = log.next_batch(store)
        log.append_batch(
            store, batch=batch, rater=rater, kind="undo", label=step.label, target=step.batch,
            below=latest.redo_top, undo_top=step.below, redo_top=batch, at=log.now_utc(),
        )
        changes = _replay(store, batch=batch, rater=rater, action="undo", source=step.batch, undoing=True)
    return OpChangesWith(changes, step.label)


def redo(store: Store, *, rater: str) -> OpChangesWith[str | None]:
    """Re-apply the step this rater undid last; None if there is nothing to redo."""
    rater = check_rater(rater)
    with store.transaction():
        latest = log.latest_batch(store, rater)
        if latest is None or latest.redo_top is None:
            return OpChangesWith(_NOTHING, None)
        undone = log.get_batch(store, latest.redo_top)
        assert undone.target is not None
        batch = log.next_batch(store)
        log.append_batch(
            store, batch=batch, rater=rater, kind="redo", label=undone.label, target=undone.target,
            below=latest.undo_top, undo_top=batch, redo_top=undone.below, at=log.now_utc(),
        )
        changes = _replay(
            store, batch=batch, rater=rater, action="redo", source=undone.target, undoing=False
        )
    return OpChangesWith(changes, undone.label)


def undo_status(store: Store, *, rater: str) -> UndoStatus:
    latest = log.latest_batch(store, check_rater(rater))
    if latest is None:
        return UndoStatus(None, None)
    return UndoStatus(log.batch_label(store, latest.undo_top), log.batch_label(store, latest.redo_top))


# Queries ######################################################################


def turn_state(store: Store, turn_id: TurnId, *, rater: str) -> TurnState:
    return queries.turn_state(store, turn_id, rater=check_rater(rater))


def turn_states(
    store: Store, turn_ids: Iterable[TurnId], *, rater: str
) -> dict[TurnId, TurnState]:
    """TurnState for many turns at once (a whole conversation); missing ids are left out."""
    return queries.turn_states(store, _unique(turn_ids), rater=check_rater(rater))


def history(store: Store, turn_id: TurnId) -> list[DecisionRecord]:
    """Every log row about the turn, all raters, oldest first."""
    log.turn_refs(store, [turn_id])
    return log.turn_history(store, turn_id)


def decision_log(store: Store) -> Iterator[DecisionRecord]:
    """The whole log, oldest first, streamed."""
    return log.iter_log(store)


def transcript_summaries(
    store: Store,
    *,
    min_words: int,
    rater: str | None,
    category: Category | None = None,
    status_filter: str | None = None,
) -> list[TranscriptSummary]:
    """One row per transcript for the list, in id order.

    ``decided``/``flagged`` count eligible therapist turns with an effective
    include/exclude (any rater) when ``rater`` is None, else that rater's own.
    ``status_filter``: None for all, or one of STATUS_FILTERS.
    """
    if status_filter is not None and status_filter not in STATUS_FILTERS:
        raise UsageError(
            f"status filter {status_filter!r} is not one of {', '.join(STATUS_FILTERS)}"
        )
    return queries.transcript_summaries(
        store,
        min_words=_check_min_words(min_words),
        rater=check_rater(rater) if rater is not None else None,
        category=Category(category) if category is not None else None,
        status_filter=status_filter,
    )


def eligible_turn_ids(store: Store, *, min_words: int) -> list[tuple[TurnId, TranscriptId]]:
    """Therapist turns of at least ``min_words`` words, in (transcript, position) order."""
    return queries.eligible_turn_ids(store, min_words=_check_min_words(min_words))


def _check_min_words(min_words: object) -> int:
    if isinstance(min_words, bool) or not isinstance(min_words, int) or min_words < 0:
        raise ValidationError(f"minimum words: must be a whole number of 0 or more, got {min_words!r}")
    return min_words


def fts_query(text: str) -> str | None:
    """The user's words as a safe FTS5 query: each a quoted string, all required.

    Quoting makes every character literal (no operators, columns or syntax
    errors); the last word is a prefix so results follow typing. None when
    the text has no searchable word.
    """
    # Lone surrogates cannot be encoded for SQLite; NUL would end the query early.
    clean = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")
    # A pasted paragraph would AND hundreds of doclists; a few words already pin a turn down.
    words = [w for w in clean.split() if any(ch.isalnum() for ch in w)][:MAX_SEARCH_WORDS]
    if not words:
        return None
    parts = ['"' + w.replace('"', '""') + '"' for w in words]
    if sum(ch.isalnum() for ch in words[-1]) >= 3:
        # Shorter prefixes expand to thousands of terms for little use.
        parts[-1] += "*"
    return " ".join(parts)


def search(store: Store, query: str, *, limit: int = 200) -> list[SearchHit]:
    """Turns containing every word of ``query`` (any text is safe), in transcript order."""
    fts = fts_query(query)
    if fts is None or limit <= 0:
        return []
    return queries.search(store, fts, limit=limit)


# Raters #######################################################################


def raters(store: Store) -> list[str]:
    """Everyone who has made a decision, plus the current rater."""
    names = set(log.rater_names(store))
    current = get_current_rater(store)
    if current:
        names.add(current)
    return sorted(names, key=str.casefold)


def get_current_rater(store: Store) -> str | None:
    """The rater chosen in this workspace, or None before anyone has chosen."""
    value = get_setting(store, RATER_SETTING)
    return value if isinstance(value, str) and value else None


def set_current_rater(store: Store, name: str) -> OpChanges:
    set_setting(store, RATER_SETTING, check_rater(name))
    return OpChanges(settings=True)


def default_rater(store: Store) -> str:
    """The current rater, else the operating-system user name."""
    current = get_current_rater(store)
    if current:
        return current
    try:
        return check_rater(getpass.getuser())
    except (OSError, KeyError, ValidationError):
        return "rater"
