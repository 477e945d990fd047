"""`attune decisions`, `attune rater` and `attune search`, through cli.main."""

from __future__ import annotations

import json
from datetime import datetime

from core import curation
from cli import main
from core.curation import ExcludeReason
from core.models import Category
from core.store import open_store
from tests.core.test_curation_helpers import seed


def _decide(workspace):
    with open_store(workspace) as store:
        s = seed(store)
        a, b = s.long_therapist[:2]
        curation.include(store, [a], rater="ann")
        curation.exclude(store, [b], rater="bob", reason=ExcludeReason.CRISIS, note="mentions a plan")
        curation.rate(store, [a], rater="ann", rating=4)
        curation.undo(store, rater="ann")
        curation.set_category(store, [s.transcripts[2]], Category.SADNESS, rater="ann")
        return s


def test_decisions_json_prints_every_log_row(workspace, capsys) -> None:
    s = _decide(workspace)
    assert main(["--home", str(workspace), "decisions", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines]
    a, b = s.long_therapist[:2]
    assert [(r["turn_id"], r["transcript_id"], r["rater"], r["action"], r["rating"], r["reason"], r["note"])
            for r in rows] == [
        (a, s.transcripts[0], "ann", "include", None, None, None),
        (b, s.transcripts[0], "bob", "exclude", None, "crisis or risk content", "mentions a plan"),
        (a, s.transcripts[0], "ann", "rate", 4, None, None),
        (a, s.transcripts[0], "ann", "undo", None, None, None),
        (None, s.transcripts[2], "ann", "category", None, None, None),
    ]
    assert rows[-1]["category"] == "Sadness" and rows[-1]["prev_category"] == "Depression"
    for r in rows:
        assert datetime.fromisoformat(r["time"]).utcoffset().total_seconds() == 0
    with open_store(workspace) as store:
        assert [r["id"] for r in rows] == [r.id for r in curation.decision_log(store)]


def test_decisions_filters_by_rater(workspace, capsys) -> None:
    _decide(workspace)
    assert main(["--home", str(workspace), "decisions", "--json", "--rater", "bob"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["rater"], r["action"]) for r in rows] == [("bob", "exclude")]


def test_decisions_table_has_a_header_and_one_line_per_row(workspace, capsys) -> None:
    _decide(workspace)
    assert main(["--home", str(workspace), "decisions"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:6] == ["TIME", "TURN", "TRANSCRIPT", "RATER", "ACTION", "STATUS"]
    assert len(out) == 2 + 5
    assert "crisis or risk content" in out[3] and "mentions a plan" in out[3]
    assert "category Sadness" in out[6]


def test_decisions_on_an_empty_workspace(workspace, capsys) -> None:
    open_store(workspace).close()
    assert main(["--home", str(workspace), "decisions"]) == 0
    assert "(no decisions yet)" in capsys.readouterr().out
    assert main(["--home", str(workspace), "decisions", "--json"]) == 0
    assert capsys.readouterr().out == ""


def test_rater_shows_and_saves_the_current_rater(workspace, capsys) -> None:
    open_store(workspace).close()
    assert main(["--home", str(workspace), "rater", "Dr Lee"]) == 0
    capsys.readouterr()
    assert main(["--home", str(workspace), "rater"]) == 0
    assert capsys.readouterr().out.strip() == "Dr Lee"
    assert main(["--home", str(workspace), "rater", "   "]) == 1
    assert "rater: the name is empty" in capsys.readouterr().err


def test_search_prints_where_each_hit_is(workspace, capsys) -> None:
    s = _decide(workspace)
    assert main(["--home", str(workspace), "search", "charlie", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["turn_id"], r["transcript_id"], r["position"]) for r in rows] == [
        (s.turns[1][0], s.transcripts[1], 0)]
    assert main(["--home", str(workspace), "search", "NEAR(", '"']) == 0
    assert "no matching turns" in capsys.readouterr().out


def test_deciding_from_the_command_line_uses_the_current_rater(workspace, capsys) -> None:
    with open_store(workspace) as store:
        s = seed(store)
    a, b = s.long_therapist[:2]
    home = ["--home", str(workspace)]
    assert main([*home, "rater", "Dr Lee"]) == 0
    assert main([*home, "include", str(a), str(b)]) == 0
    assert main([*home, "exclude", str(b), "--reason", "Crisis", "--note", "a plan", "--rater", "bob"]) == 0
    assert main([*home, "rate", str(a), "--rating", "5"]) == 0
    out = capsys.readouterr().out
    assert "included 2 turns (rater: Dr Lee)" in out
    assert f"excluded turn {b}: crisis or risk content (rater: bob)" in out
    with open_store(workspace) as store:
        assert [(r.turn_id, r.rater, r.action) for r in curation.decision_log(store)] == [
            (a, "Dr Lee", "include"), (b, "Dr Lee", "include"), (b, "bob", "exclude"), (a, "Dr Lee", "rate")]
        assert curation.turn_state(store, b, rater="bob").note == "a plan"

    assert main([*home, "undo"]) == 0
    assert main([*home, "undo"]) == 0
    assert main([*home, "undo"]) == 0
    assert main([*home, "redo", "--rater", "bob"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["undone: Rate turn 5", "undone: Include 2 turns", "nothing to undo for Dr Lee",
                   "nothing to redo for bob"]
    with open_store(workspace) as store:
        assert curation.turn_state(store, a, rater="Dr Lee").own == curation.RaterState()
        assert curation.turn_state(store, b, rater="bob").status is curation.Status.EXCLUDED


def test_deciding_refuses_bad_input_with_one_line(workspace, capsys) -> None:
    with open_store(workspace) as store:
        s = seed(store)
    home = ["--home", str(workspace)]
    assert main([*home, "exclude", str(s.long_therapist[0]), "--reason", "boring"]) == 2
    assert "--reason: unknown reason 'boring'" in capsys.readouterr().err
    assert main([*home, "include", str(s.turns[0][0])]) == 2
    assert "is a client turn" in capsys.readouterr().err
    assert main([*home, "include", "987654"]) == 1
    assert "turn 987654 does not exist" in capsys.readouterr().err
    with open_store(workspace) as store:
        assert list(curation.decision_log(store)) == []
