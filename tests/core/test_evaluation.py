"""evaluate(): the sample fixture by hand, the locked golden JSON, empty categories,
missing and blocked replies, bootstrap determinism, the CLI and the reports."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from cli import main
from core.errors import NotFoundError, OperationCancelled, UsageError
from core.evaluation import evaluate
from core.evaluation.evaluate import CATEGORIES, SYSTEM_KEYS, parse_systems
from core.evaluation.report import to_csv, to_html, to_markdown
from core.evaluation.sample import SAMPLE_DATASET, build_sample
from core.models import Category
from core.progress import TaskState
from core.store import open_store

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "evaluation_golden.json"

# Worked out by hand from core/evaluation/sample.py (see docs/evaluation.md):
#   reference words/sentences/compound/questions, names
#   1 Anxiety  "Sam, tell me more. What happens then?"  7/2/0/1, Sam (used)
#   2 Anxiety  "You feel it in your body."               6/1/0/0, Alex (not used)
#   3 Depress. "What do you need from today?"            6/1/0/1, no names
#   4 Fatigue  "You are tired. Rest is part of this."    8/2/-0.4404/0, Jo (not used)
# base:  1 "That sounds good. Can you say more?" 7/2/0.4404/1, no Sam -> mismatch
#        2 empty, 3 blocked (both missing), 4 "Sleep." 1/1/0/0
# tuned: 1 "Tell me more, Sam." 4/1/0/0; 2 "Alex, you feel it. It is sad." 7/2/-0.4767/0,
#        uses Alex -> mismatch; 3 "Today is a good day. What do you need?" 9/2/0.4404/1; 4 none
HAND = {
    "overall": {
        "n": 4,
        "base": (3.5, 0.5, 0.4404, 1, 1, 1, 2, 2),  # (0+7)/2, (0+1)/2, (.4404+.4404)/2
        "tuned": (7 / 3, 1.0, 0.9171 / 3, 1, 1, 1, 3, 1),  # (3+1+3)/3, 1, (0+.4767+.4404)/3
        "therapist": (2, 2),
    },
    "Anxiety": {
        "n": 2,
        "base": (0.0, 0.0, 0.4404, 1, 1, 1, 1, 1),
        "tuned": (2.0, 1.0, 0.23835, 1, 0, 0, 2, 0),
        "therapist": (1, 1),
    },
    "Depression": {
        "n": 1,
        "base": (None, None, None, 0, 0, 0, 0, 1),
        "tuned": (3.0, 1.0, 0.4404, 0, 1, 1, 1, 0),
        "therapist": (1, 1),
    },
    "Fatigue": {
        "n": 1,
        "base": (7.0, 1.0, 0.4404, 0, 0, 0, 1, 0),
        "tuned": (None, None, None, 0, 0, 0, 0, 1),
        "therapist": (0, 0),
    },
}
EMPTY = {"n": 0, "base": (None, None, None, 0, 0, 0, 0, 0), "tuned": (None, None, None, 0, 0, 0, 0, 0),
         "therapist": (0, 0)}


@pytest.fixture
def sample(store, tmp_path: Path):
    build_sample(store, tmp_path / "replies")
    return store


def _as_tuple(block: dict, system: str) -> tuple:
    s = block["systems"][system]
    return tuple(s[k] for k in SYSTEM_KEYS)


def _close(a: tuple, b: tuple) -> bool:
    return all((x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-6)
               for x, y in zip(a, b, strict=True))


def test_sample_matches_the_hand_computation(sample) -> None:
    out = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"]).to_json()
    blocks = {"overall": out["overall"], **out["categories"]}
    for name in CATEGORIES + ("overall",):
        expected = HAND.get(name, EMPTY)
        block = blocks[name]
        assert block["n"] == expected["n"], name
        for system in ("base", "tuned"):
            assert _close(_as_tuple(block, system), expected[system]), (name, system, block["systems"][system])
        assert (block["therapist"]["questions"], block["therapist"]["replies_with_question"]) == expected["therapist"]


def test_golden_json_is_locked_and_agrees_with_the_hand_computation(sample) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    # The golden file itself must hold the hand-computed figures...
    for name, expected in HAND.items():
        block = golden["overall"] if name == "overall" else golden["categories"][name]
        for system in ("base", "tuned"):
            assert _close(_as_tuple(block, system), expected[system]), (name, system)
    # ...and the code's full output, intervals and paired tests included, must not drift
    # (min_items=1: the sample is far below the default minimum, and the golden locks the inference too).
    assert evaluate(sample, SAMPLE_DATASET, ["base", "tuned"], seed=0, min_items=1).to_json() == golden


def test_json_shape_is_exactly_the_documented_one(sample) -> None:
    out = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"]).to_json()
    assert list(out["categories"]) == [c.value for c in Category]
    for block in [out["overall"], *out["categories"].values()]:
        assert {"n", "systems", "therapist"} <= set(block)
        assert list(block["systems"]) == ["base", "tuned"]
        for scores in block["systems"].values():
            assert set(scores) == set(SYSTEM_KEYS)
        assert set(block["therapist"]) == {"questions", "replies_with_question"}


def test_categories_without_items_are_present_with_zero_n(sample) -> None:
    result = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"])
    for cat in ("Frustration", "Sadness", "Anger", "Other"):
        block = result.categories[cat]
        assert block.n == 0
        assert block.systems["base"].avg_length_diff is None
        assert block.intervals["base"]["avg_length_diff"] is None
    assert "| Avg Length Diff (abs) | — | — | — |" in to_markdown(result)


def test_missing_counts_no_reply_blocked_and_empty(sample) -> None:
    result = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"])
    states = {eid: row["base"].state for eid, row in result.scores.items()}
    assert states == {"ex-90000001": "ok", "ex-90000002": "empty", "ex-90000003": "blocked", "ex-90000004": "ok"}
    assert result.scores["ex-90000004"]["tuned"].state == "none"
    assert result.overall.systems["base"].missing == 2
    assert result.overall.systems["tuned"].missing == 1


def test_the_therapist_system_is_its_own_reference(sample) -> None:
    result = evaluate(sample, SAMPLE_DATASET, ["therapist"])
    t = result.overall.systems["therapist"]
    assert (t.avg_length_diff, t.avg_sentence_diff, t.avg_sentiment_distance, t.name_usage_mismatch) == (0, 0, 0, 0)
    assert (t.n, t.missing, t.questions) == (4, 0, result.overall.therapist.questions)


def test_the_table_shows_the_therapist_once_when_it_is_one_of_the_systems(sample) -> None:
    from core.evaluation import report

    named = evaluate(sample, SAMPLE_DATASET, ["therapist"])
    assert report.headers(named) == ["Metric", "therapist"]
    assert all(len(row) == 2 for row in report.table_rows(named, named.overall))
    assert "<th>Therapist</th>" not in to_html(named) and "| Therapist |" not in to_markdown(named)
    # Without it, the therapist's figures (questions, n) keep their reference column.
    others = evaluate(sample, SAMPLE_DATASET, ["base"])
    assert report.headers(others)[-1] == "Therapist"
    questions = next(r for r in report.table_rows(others, others.overall) if r[0] == "Num of Questions Asked")
    assert questions[-1] == str(others.overall.therapist.questions)


def test_unknown_names_and_bad_system_lists_are_refused(sample) -> None:
    with pytest.raises(NotFoundError, match="no system named 'gpt'.*known: therapist, base, tuned"):
        evaluate(sample, SAMPLE_DATASET, ["gpt"])
    with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
        evaluate(sample, "nope", ["base"])
    with pytest.raises(UsageError):
        parse_systems(" , ")
    with pytest.raises(UsageError, match="'a' is named twice"):
        parse_systems("a,b,a")
    assert parse_systems(" base , tuned ") == ["base", "tuned"]


def test_cancel_stops_the_evaluation(sample) -> None:
    state = TaskState()
    state.cancel()
    with pytest.raises(OperationCancelled):
        evaluate(sample, SAMPLE_DATASET, ["base", "tuned"], state=state)


# A larger synthetic dataset for the bootstrap ###############################


@pytest.fixture
def larger(store, tmp_path: Path):
    from core.importing import content_hash
    from core.models import ParsedTranscript, ParsedTurn, Role
    from core.store import transcripts as transcript_store
    from core.store.datasets import ExampleRow, insert_dataset

    rng = random.Random(7)
    vocab = "I hear you that sounds hard good sad tired what would help today Sam".split()
    examples, lines = [], {"a": [], "b": []}
    with store.transaction():
        for i in range(60):
            ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(3, 30))) + rng.choice([".", "?"])
            parsed = ParsedTranscript(
                title=f"s{i}", format="test", category=list(Category)[i % 3],
                client_names=["Sam"] if i % 2 else [],
                turns=[ParsedTurn(Role.CLIENT, "C", "hello", "hello"), ParsedTurn(Role.THERAPIST, "T", ref, ref)],
            )
            tid = transcript_store.insert_transcript(store, parsed, source_path="x", content_hash=content_hash(parsed))
            client, therapist = transcript_store.turns_of(store, tid)
            eid = f"ex-{i + 1:08d}"
            examples.append(ExampleRow(eid, "test", therapist.id, tid, parsed.category.value, 1, (client.id,)))
            for system in lines:
                reply = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 40))) + "?"
                lines[system].append(json.dumps({"example_id": eid, "response": reply}))
    insert_dataset(store, name="big", rules={}, seed=0, counts={}, content_hash="x", system_instruction="",
                   examples=examples)
    from core.evaluation.responses import import_responses

    for system, rows in lines.items():
        path = tmp_path / f"{system}.jsonl"
        path.write_text("\n".join(rows), encoding="utf-8")
        import_responses(store, system, path)
    return store


def test_bootstrap_is_deterministic_by_seed(larger) -> None:
    one = evaluate(larger, "big", ["a", "b"], seed=3, resamples=200).to_json()
    again = evaluate(larger, "big", ["a", "b"], seed=3, resamples=200).to_json()
    other = evaluate(larger, "big", ["a", "b"], seed=4, resamples=200).to_json()
    assert one == again
    assert one["overall"]["intervals"] != other["overall"]["intervals"]
    assert one["overall"]["systems"] == other["overall"]["systems"]  # point estimates never depend on the seed


def test_intervals_bracket_the_estimates_and_adding_a_system_keeps_them(larger) -> None:
    both = evaluate(larger, "big", ["a", "b"], seed=1, resamples=300)
    alone = evaluate(larger, "big", ["a"], seed=1, resamples=300)
    for block in [both.overall, *(both.categories[c] for c in ("Anxiety", "Depression", "Fatigue"))]:
        for name in ("a", "b"):
            for metric in ("avg_length_diff", "avg_sentence_diff", "avg_sentiment_distance"):
                lo, hi = block.intervals[name][metric]
                assert lo <= getattr(block.systems[name], metric) <= hi
            lo, hi = block.intervals[name]["avg_length_diff"]
            assert hi > lo
    assert both.overall.intervals["a"] == alone.overall.intervals["a"]
    pair = both.overall.paired[0]
    assert (pair.a, pair.b, pair.n) == ("a", "b", 60)
    diffs = [both.scores[e]["a"].length_diff - both.scores[e]["b"].length_diff for e in both.scores]
    assert pair.metrics["avg_length_diff"].mean_difference == pytest.approx(sum(diffs) / len(diffs))
    assert 0 <= pair.metrics["avg_length_diff"].wilcoxon_p <= 1


# Command line and reports ###################################################


def _home(store) -> str:
    return str(store.path.parent)


def test_cli_evaluate_writes_the_same_json_and_a_report(sample, tmp_path: Path, capsys) -> None:
    expected = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"], seed=5, min_items=1).to_json()
    home = _home(sample)
    sample.close()
    out_json, rep = tmp_path / "out.json", tmp_path / "rep"
    args = ["--home", home, "evaluate", SAMPLE_DATASET, "--systems", "base,tuned", "--seed", "5",
            "--json", str(out_json), "--report", str(rep), "--min-items", "1"]
    # tuned has no reply for one item: refused, nothing written, unless --allow-missing
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "system 'tuned' has no reply for 1 of 4 test items" in err and "base" not in err.split("\n")[0]
    assert not out_json.exists() and not rep.exists()
    rc = main([*args, "--allow-missing"])
    assert rc == 0
    assert json.loads(out_json.read_text(encoding="utf-8")) == expected
    stdout = capsys.readouterr().out
    assert "Avg Length Diff (abs)    3.50 [2.33, 7.00]" in stdout
    assert "Anger (n = 0)" in stdout
    assert sorted(p.name for p in rep.iterdir()) == sorted(
        ["evaluation.json", "evaluation.md", "evaluation.csv", "evaluation.html", "COMPLETE.json"])
    assert json.loads((rep / "evaluation.json").read_text(encoding="utf-8")) == expected


def test_cli_evaluate_usage_errors(sample, capsys) -> None:
    home = _home(sample)
    sample.close()
    assert main(["--home", home, "evaluate", SAMPLE_DATASET, "--systems", "base,nope"]) == 1
    assert "no system named 'nope'" in capsys.readouterr().err
    assert main(["--home", home, "evaluate", SAMPLE_DATASET, "--systems", ","]) == 2


def test_html_report_is_self_contained_and_notes_vader(sample) -> None:
    page = to_html(evaluate(sample, SAMPLE_DATASET, ["base", "tuned"]))
    lowered = page.lower()
    assert "<script" not in lowered and "src=" not in lowered and "href=" not in lowered and "@import" not in lowered
    assert "http" not in lowered.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count("<svg") == 4
    assert "not been validated on clinical dialogue" in page
    assert "<th>Metric</th><th>base</th><th>tuned</th><th>Therapist</th>" in page
    assert "Sam" not in page and "tired" not in page  # aggregates only, never session text


def test_markdown_and_csv_read_like_the_paper(sample) -> None:
    result = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"])
    md = to_markdown(result)
    assert "| Metric | base | tuned | Therapist |" in md
    assert "| Num of Questions Asked | 1 | 1 | 2 |" in md
    assert "not been validated on clinical dialogue" in md
    rows = list(csv.reader(io.StringIO(to_csv(result))))
    assert rows[0][:5] == ["Table", "Metric", "base", "tuned", "Therapist"]
    fatigue = {r[1]: r for r in rows if r[0] == "Fatigue"}
    assert fatigue["Avg Length Diff (abs)"][2:5] == ["7.0", "", ""]
    assert fatigue["Num of Questions Asked"][4] == "0"
    assert len(rows) == 1 + 8 * 8


def test_results_survive_reopening_the_workspace(sample, tmp_path: Path) -> None:
    first = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"]).to_json()
    path = sample.path.parent
    sample.close()
    with open_store(path) as again:
        assert evaluate(again, SAMPLE_DATASET, ["base", "tuned"]).to_json() == first


# Stored features ############################################################


def test_features_live_beside_their_text_and_follow_it(sample) -> None:
    from core.evaluation.metrics import SCORER

    conn = sample.conn
    stored = dict(conn.execute(
        "SELECT r.example_id, r.words FROM responses r JOIN systems s ON s.id = r.system_id "
        "WHERE s.name = 'tuned' AND r.scorer = ?", [SCORER]))
    assert stored == {"ex-90000001": 4, "ex-90000002": 7, "ex-90000003": 9}
    assert conn.execute("SELECT count(*) FROM responses WHERE state != 'ok' AND scorer IS NOT NULL").fetchone()[0] == 0
    evaluate(sample, SAMPLE_DATASET, ["base", "tuned"])
    assert conn.execute("SELECT count(*) FROM reference_features").fetchone()[0] == 4
    # Editing a reference turn clears its cached features; the next evaluation
    # reads the new text: item 4's reference becomes 2 words ("Rest now."), so
    # base's |1 - 2| = 1 replaces 7 and the overall average is (0 + 1) / 2.
    turn = conn.execute("SELECT turn_id FROM dataset_examples WHERE example_id = 'ex-90000004'").fetchone()[0]
    with sample.transaction():
        conn.execute("UPDATE turns SET text = 'Rest now.' WHERE id = ?", [turn])
    assert conn.execute("SELECT count(*) FROM reference_features WHERE turn_id = ?", [turn]).fetchone()[0] == 0
    assert evaluate(sample, SAMPLE_DATASET, ["base"]).overall.systems["base"].avg_length_diff == 0.5


def test_features_from_another_scorer_are_recomputed(sample) -> None:
    from core.evaluation.metrics import SCORER

    expected = evaluate(sample, SAMPLE_DATASET, ["base", "tuned"]).to_json()
    with sample.transaction() as conn:
        conn.execute("UPDATE responses SET scorer = 'vader-0/old', words = 999 WHERE scorer IS NOT NULL")
        conn.execute("UPDATE reference_features SET scorer = 'vader-0/old', words = 999")
    assert evaluate(sample, SAMPLE_DATASET, ["base", "tuned"]).to_json() == expected
    assert sample.conn.execute("SELECT count(*) FROM responses WHERE scorer = ?", [SCORER]).fetchone()[0] == 5
    assert sample.conn.execute("SELECT max(words) FROM reference_features").fetchone()[0] < 999


def test_deleting_a_system_or_dataset_deletes_its_replies(sample) -> None:
    from core.store import responses as response_store
    from core.store.datasets import delete_dataset

    assert response_store.delete_system(sample, "base") == 4
    assert sample.conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 3
    delete_dataset(sample, SAMPLE_DATASET)
    assert sample.conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 0


def test_cli_json_to_stdout_keeps_tables_on_stderr(sample, capsys) -> None:
    expected = evaluate(sample, SAMPLE_DATASET, ["tuned"]).to_json()
    home = _home(sample)
    sample.close()
    assert main(["--home", home, "evaluate", SAMPLE_DATASET, "--systems", "tuned", "--json", "-",
                 "--allow-missing"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == expected
    assert "Overall (n = 4)" in captured.err


# The published JSON Schema ##################################################

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "evaluation.schema.json"
_TYPES = {"object": dict, "array": list, "string": str, "null": type(None), "boolean": bool}


def _is(value: object, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def _validate(value: object, schema: dict, root: dict, path: str = "$") -> list[str]:
    """The subset of JSON Schema the evaluation schema uses (no network, no extra package)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _validate(value, target, root, path)
    errors = []
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_is(value, t) for t in names):
            return [f"{path}: {value!r} is not {types}"]
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += _validate(item, props[key], root, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                errors += _validate(item, extra, root, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: wrong length {len(value)}")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += _validate(item, schema["items"], root, f"{path}[{i}]")
    return errors


def test_output_matches_the_published_json_schema(larger) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert _validate(golden, schema, schema) == []
    out = evaluate(larger, "big", ["a", "b", "therapist"], resamples=20).to_json()
    assert _validate(out, schema, schema) == []
    # The validator is real: a missing fixed key and a stray one are both caught.
    del out["overall"]["systems"]["a"]["missing"]
    out["overall"]["therapist"]["extra"] = 1
    assert len(_validate(out, schema, schema)) == 2
