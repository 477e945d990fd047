"""Excluding client turns and redacting spans: logged steps, undo/redo, the multi-rater policy."""

from __future__ import annotations

import pytest

from core import curation
from core.changes import OpChanges
from core.curation import ExcludeReason, Status
from core.datasets.items import REDACTED, Withheld, load_withheld, redact_text, stored_context
from core.datasets.targets import Message
from core.errors import UsageError, ValidationError
from core.ids import TurnId
from tests.core.test_curation_helpers import Seeded, seed


@pytest.fixture
def seeded(store) -> Seeded:
    return seed(store)


def test_a_client_turn_can_be_excluded_and_undone_but_not_included(store, seeded) -> None:
    client = seeded.turns[0][0]
    assert curation.exclude(store, [client], rater="ann", reason=ExcludeReason.IDENTIFYING) == OpChanges(decisions=True)
    state = curation.turn_state(store, client, rater="ann")
    assert (state.status, state.reason, state.effective_status) == (
        Status.EXCLUDED, ExcludeReason.IDENTIFYING, Status.EXCLUDED)
    assert load_withheld(store).excluded == {client: "identifying information"}
    with pytest.raises(UsageError, match="only therapist turns can be included or rated"):
        curation.include(store, [client], rater="ann")
    with pytest.raises(UsageError, match="only therapist turns"):
        curation.rate(store, [client], rater="ann", rating=3)
    assert curation.undo(store, rater="ann").value is not None
    assert curation.turn_state(store, client, rater="ann").status is Status.UNREVIEWED
    assert load_withheld(store).excluded == {}
    assert curation.redo(store, rater="ann").value is not None
    assert load_withheld(store).excluded == {client: "identifying information"}


def test_client_decisions_do_not_count_as_curation_progress(store, seeded) -> None:
    # Session A's first client turn has 6 words; at min_words 1 it would count if rows were not role-aware.
    curation.exclude(store, [seeded.turns[0][0]], rater="ann", reason=ExcludeReason.IDENTIFYING)
    curation.set_flag(store, [seeded.turns[0][2]], rater="ann", flagged=True)
    summary = curation.transcript_summaries(store, min_words=1, rater=None)[0]
    assert (summary.decided, summary.flagged) == (0, 0)
    curation.include(store, [seeded.turns[0][1]], rater="ann")
    summary = curation.transcript_summaries(store, min_words=1, rater="ann")[0]
    assert (summary.decided, summary.eligible) == (1, 3)


def test_redaction_is_one_step_with_undo_and_redo(store, seeded) -> None:
    turn = seeded.turns[0][0]  # "I can't sleep at all lately?"
    text = curation.turn_text(store, turn)
    start = text.index("sleep")
    assert curation.redact(store, turn, start, start + 5, rater="ann") == OpChanges(decisions=True)
    assert curation.redact(store, turn, start, start + 5, rater="ann") == OpChanges()  # nothing new
    assert [(s.start, s.end, s.rater, s.reason) for s in curation.redacted_spans(store, [turn])] == [
        (start, start + 5, "ann", "identifying information")]
    assert curation.undo_status(store, rater="ann").undo_label == f"Redact 5 characters of turn {turn}"
    assert load_withheld(store).text(turn, text) == f"I can't {REDACTED} at all lately?"

    assert curation.undo(store, rater="ann").value == f"Redact 5 characters of turn {turn}"
    assert curation.redacted_spans(store, [turn]) == []
    assert load_withheld(store).text(turn, text) == text
    curation.redo(store, rater="ann")
    assert len(curation.redacted_spans(store, [turn])) == 1
    assert curation.unredact(store, turn, start, start + 5, rater="ann") == OpChanges(decisions=True)
    assert curation.redacted_spans(store, [turn]) == []
    curation.undo(store, rater="ann")  # undoing the removal brings the redaction back
    assert len(curation.redacted_spans(store, [turn])) == 1
    actions = [r.action for r in curation.redaction_history(store, turn)]
    assert actions == ["redact", "undo", "redo", "unredact", "undo"]


def test_any_raters_redaction_holds(store, seeded) -> None:
    turn = seeded.turns[1][1]  # "That helps, thank you."
    curation.redact(store, turn, 0, 4, rater="ann")
    curation.redact(store, turn, 2, 10, rater="bob", reason=ExcludeReason.OTHER)
    # bob cannot remove ann's span; removing his own leaves hers
    assert curation.unredact(store, turn, 0, 4, rater="bob") == OpChanges()
    assert load_withheld(store).text(turn, "That helps, thank you.") == f"{REDACTED}, thank you."
    curation.unredact(store, turn, 2, 10, rater="bob")
    assert load_withheld(store).text(turn, "That helps, thank you.") == f"{REDACTED} helps, thank you."
    assert curation.undo(store, rater="ann").value is not None  # ann's own undo is hers alone
    assert curation.redacted_spans(store, [turn]) == []


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (3, 3), (5, 2), (0, 10_000), (True, 4), ("0", 4)])
def test_bad_spans_are_refused_in_one_line(store, seeded, start, end) -> None:
    with pytest.raises(ValidationError) as info:
        curation.redact(store, seeded.turns[0][0], start, end, rater="ann")
    assert "\n" not in str(info.value)
    assert curation.redacted_spans(store, [seeded.turns[0][0]]) == []


def test_redact_text_merges_overlaps_and_clamps() -> None:
    assert redact_text("abcdefgh", [(5, 7), (1, 3), (2, 4)]) == f"a{REDACTED}e{REDACTED}h"
    assert redact_text("abc", [(0, 2), (2, 3)]) == REDACTED  # touching spans merge
    assert redact_text("abc", [(1, 99)]) == f"a{REDACTED}"  # an edited, shorter text stays covered
    assert redact_text("abc", []) == "abc"


def _t(n: int, role: str) -> tuple[TurnId, str, str, int]:
    return TurnId(n), role, f"{role} {n}", 2


def test_a_stored_context_is_cut_after_the_latest_excluded_turn() -> None:
    turns = [_t(1, "client"), _t(2, "therapist"), _t(3, "client"), _t(4, "therapist"), _t(5, "client")]
    ctx, cut = stored_context(turns, Withheld({TurnId(2): "crisis or risk content"}))
    assert cut == "crisis or risk content"
    assert ctx == (Message("client", "client 3", (TurnId(3),), 2), Message("therapist", "therapist 4", (TurnId(4),), 2),
                   Message("client", "client 5", (TurnId(5),), 2))
    # cut right after a therapist turn: the context still starts on a client turn
    ctx, _ = stored_context(turns, Withheld({TurnId(3): "other"}))
    assert ctx == (Message("client", "client 5", (TurnId(5),), 2),)
    # the client turn right before the target excluded: nothing to answer, dropped
    assert stored_context(turns, Withheld({TurnId(5): "other"})) == (None, "other")
    # an excluded "other" turn is never shown, so it cuts nothing
    assert stored_context([*turns[:2], _t(9, "other"), *turns[2:]], Withheld({TurnId(9): "other"}))[1] is None


def test_the_decision_log_shows_redactions_in_step_order(store, seeded, workspace, capsys) -> None:
    import json

    from cli import main

    turn = seeded.turns[0][0]
    curation.include(store, [seeded.turns[0][1]], rater="ann")
    curation.redact(store, turn, 2, 7, rater="ann")
    curation.exclude(store, [turn], rater="bob", reason=ExcludeReason.IDENTIFYING)
    curation.undo(store, rater="ann")
    store.close()
    assert main(["--home", str(workspace), "decisions", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["action"], r.get("kind"), r["rater"]) for r in rows] == [
        ("include", None, "ann"), ("redact", "redaction", "ann"), ("exclude", None, "bob"),
        ("undo", "redaction", "ann")]
    assert (rows[1]["start"], rows[1]["end"], rows[1]["redacted"], rows[3]["redacted"]) == (2, 7, True, False)
    assert main(["--home", str(workspace), "decisions"]) == 0
    assert "redacted 2-7" in capsys.readouterr().out
