"""Issue 10: demo transcripts out of real work, deletable transcripts, session-metadata and rating
defaults, splits grouped by client text, a leakage check on prompts, stable example ids, and an
evaluation that is honest about missing replies and small samples."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from core import curation
from cli import main
from core.datasets import DatasetRules, build_dataset
from core.datasets.leakage import LeakageError, LeakageItem, check_leakage, normalise, similar_pairs
from core.datasets.rules import judge_sessions, parse_condition
from core.demo import demo_pending, ensure_demo_imported
from core.errors import NotFoundError, UsageError
from core.evaluation.evaluate import evaluate
from core.evaluation.responses import NewReply, save_replies
from core.ids import TranscriptId, TurnId
from core.models import Category, ParsedTranscript, Role
from core.resources import demo_transcripts
from core.store import Store, open_store
from core.store import datasets as ds_store
from core.store import transcripts as transcript_store
from tests.conftest import ANNOMI_SIMPLE, COUNSEL_CHAT, needs_annomi
from tests.core.datasets_fixtures import add_session, populate, random_session, turn

LONG = ("It sounds like the evenings are where it all catches up with you, when the house is quiet "
        "and there is nothing left to keep the worry at bay, and I wonder whether we could look "
        "together at what those hours are like for you and what has helped even a little before.")


def _session(tag: str, client_text: str, *, client_key: str | None, reply: str = LONG,
             metadata: dict | None = None, category: Category = Category.ANXIETY) -> ParsedTranscript:
    return ParsedTranscript(
        title=tag, format="test", turns=[turn(Role.CLIENT, client_text), turn(Role.THERAPIST, f"{reply} ({tag})")],
        category=category, client_key=client_key, client_names=["Sam"], metadata=metadata or {},
    )


def _rows(store: Store, name: str) -> list[ds_store.ExampleRow]:
    return ds_store.examples_of(store, ds_store.get_dataset(store, name).id)


# Demonstration transcripts ##################################################


def test_demos_are_offered_only_to_an_empty_workspace(store: Store) -> None:
    if not demo_transcripts():
        pytest.skip("no demonstration transcripts in resources/demo")
    populate(store, n_sessions=3)
    assert not demo_pending(store)
    assert ensure_demo_imported(store) is None
    assert transcript_store.count_transcripts(store) == 3  # a real workspace gains nothing
    assert not demo_pending(store)


def test_demos_are_tagged_and_stay_out_of_a_default_dataset(tmp_path: Path) -> None:
    if not demo_transcripts():
        pytest.skip("no demonstration transcripts in resources/demo")
    with open_store(tmp_path / "ws") as store:
        assert demo_pending(store)
        report = ensure_demo_imported(store)
        assert report is not None and report.imported_transcripts > 0
        demo_ids = {t.id for t in transcript_store.list_transcripts(store)}
        assert all(t.metadata.get("demo") is True for t in transcript_store.list_transcripts(store))
        populate(store, n_sessions=30)
        record = build_dataset(store, "real", DatasetRules())
        assert record.counts["removed"]["demo"] > 0
        assert not {r.transcript_id for r in _rows(store, "real")} & demo_ids
        # a visible rule brings them back
        with_demo = build_dataset(store, "with-demo", DatasetRules(include_demo=True))
        assert with_demo.rules["include_demo"] is True
        assert {r.transcript_id for r in _rows(store, "with-demo")} & demo_ids


# Deleting transcripts #######################################################


def test_transcript_delete_is_refused_while_a_dataset_uses_it_then_takes_the_dataset(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    with open_store(home) as store:
        ids = populate(store, n_sessions=30)
        record = build_dataset(store, "d", DatasetRules())
        test_rows = ds_store.examples_of(store, record.id, "test")
        victim = test_rows[0].transcript_id
        curation.rate(store, [test_rows[0].turn_id], rater="r", rating=4)
        save_replies(store, "base", [NewReply(r.example_id, "Tell me more.") for r in test_rows],
                     kind="imported", provenance={})
        unused = add_session(store, _session("short", QUESTION, client_key=None, reply="Mm."), "unused")
        assert ids and unused not in {r.transcript_id for r in _rows(store, "d")}
    # an unused transcript goes at once, with its decisions
    assert main(["--home", str(home), "transcripts", "delete", str(unused)]) == 0
    # the dry run says what would go, and changes nothing
    assert main(["--home", str(home), "transcripts", "delete", str(victim), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete 1 transcript" in out and "1 decision" in out and "dataset 'd'" in out
    assert f"would delete {len(test_rows)} imported replies" in out
    assert main(["--home", str(home), "transcripts", "delete", str(victim)]) == 2
    assert "use these transcripts ('d')" in capsys.readouterr().err
    with open_store(home) as store:
        assert transcript_store.get_transcript(store, victim)  # still there
    assert main(["--home", str(home), "transcripts", "delete", str(victim), "--with-datasets"]) == 0
    with open_store(home) as store:
        with pytest.raises(NotFoundError):
            transcript_store.get_transcript(store, victim)
        with pytest.raises(NotFoundError):
            ds_store.get_dataset(store, "d")
        assert store.conn.execute("SELECT count(*) FROM decisions WHERE transcript_id = ?", [victim]).fetchone()[0] == 0
        assert store.conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 0
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # undo after the delete does not resurrect or crash on the vanished turn
        curation.undo(store, rater="r")
    assert main(["--home", str(home), "transcripts", "delete", "99999"]) == 1


def test_deleting_a_frozen_source_takes_the_datasets_that_reuse_it(store: Store) -> None:
    populate(store, n_sessions=30)
    first = build_dataset(store, "first", DatasetRules(freeze_test=True))
    build_dataset(store, "second", DatasetRules(seed=4))
    victim = ds_store.examples_of(store, first.id, "test")[0].transcript_id
    impact = transcript_store.deletion_impact(store, [victim])
    assert [name for name, _ in impact.datasets] == ["first", "second"]
    transcript_store.delete_transcripts(store, [victim], with_datasets=True)
    assert ds_store.list_datasets(store) == []


# Session metadata and rating defaults #######################################


def test_conditions_compare_numbers_text_and_missing_keys() -> None:
    low = parse_condition("mi_quality != low")
    assert not low.matches({"mi_quality": "LOW"}) and low.matches({"mi_quality": "high"}) and low.matches({})
    up = parse_condition("upvotes>=2")
    assert up.matches({"upvotes": 3}) and up.matches({"upvotes": "2"}) and not up.matches({"upvotes": 1})
    assert not up.matches({}) and not up.matches({"upvotes": "many"})
    assert parse_condition("demo = true").matches({"demo": True})
    with pytest.raises(UsageError, match="session rule 'upvotes'"):
        parse_condition("upvotes")
    with pytest.raises(UsageError, match="session rule"):
        DatasetRules(session_rules=("topic ~ x",)).validate()
    verdicts = judge_sessions(DatasetRules(), [(TranscriptId(1), {"mi_quality": "low"}), (TranscriptId(2), {}),
                                               (TranscriptId(3), {"demo": True, "mi_quality": "low"})])
    assert verdicts.demo == {3} and verdicts.by_rule == {"mi_quality != low": {1}}


def _quality_workspace(store: Store) -> tuple[set[int], set[int]]:
    rng = random.Random(3)
    low, high = set(), set()
    for i in range(24):
        s = random_session(rng, f"q{i}", category=Category.OTHER, client_key=f"c{i}", client_name="Kim")
        s.metadata = {"mi_quality": "low" if i % 4 == 0 else "high", "upvotes": i}
        (low if i % 4 == 0 else high).add(add_session(store, s, f"q{i}"))
    return low, high


def test_low_quality_sessions_are_left_out_by_default_and_counted(store: Store) -> None:
    low, _high = _quality_workspace(store)
    record = build_dataset(store, "default", DatasetRules())
    assert record.rules["session_rules"] == ["mi_quality != low"]
    assert not {r.transcript_id for r in _rows(store, "default")} & low
    in_low = sum(1 for c in ds_store.candidate_targets(store, 50) if c.transcript_id in low)
    assert in_low > 0 and record.counts["removed"]["session rule: mi_quality != low"] == in_low
    everything = build_dataset(store, "all", DatasetRules(session_rules=()))
    assert {r.transcript_id for r in _rows(store, "all")} & low
    assert len(_rows(store, "all")) == sum(everything.counts["splits"].values())
    # any stored key, compared as a number
    build_dataset(store, "popular", DatasetRules(session_rules=("upvotes >= 12",)))
    upvotes = {t.id: t.metadata["upvotes"] for t in transcript_store.list_transcripts(store)}
    popular = {r.transcript_id for r in _rows(store, "popular")}
    assert popular and all(upvotes[t] >= 12 for t in popular)
    assert any(upvotes[t] < 12 for t in {r.transcript_id for r in _rows(store, "all")})


def test_the_cli_shows_and_overrides_the_defaults(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    with open_store(home) as store:
        low, _ = _quality_workspace(store)
        target = next(c for c in ds_store.candidate_targets(store, 50)
                      if c.transcript_id not in low and c.prev_role == "client")
        curation.rate(store, [target.turn_id], rater="r", rating=2)
    assert main(["--home", str(home), "dataset", "build", "d"]) == 0
    out = capsys.readouterr().out
    assert "minimum rating 3" in out and "demo transcripts left out" in out and "'mi_quality != low'" in out
    assert "rated below the minimum 1" in out and "session rule: mi_quality != low" in out
    assert main(["--home", str(home), "dataset", "build", "e", "--any-rating", "--no-session-rules",
                 "--include-demo"]) == 0
    with open_store(home) as store:
        d, e = ds_store.get_dataset(store, "d"), ds_store.get_dataset(store, "e")
        assert target.turn_id not in {r.turn_id for r in _rows(store, "d")}
        assert target.turn_id in {r.turn_id for r in _rows(store, "e")}
        assert e.rules["min_rating"] is None and e.rules["session_rules"] == [] and e.rules["include_demo"]
        assert d.rules["min_rating"] == 3
    assert main(["--home", str(home), "dataset", "build", "f", "--session-rule", "topic ~ x"]) == 2
    assert main(["--home", str(home), "dataset", "export", "d", "--out", str(tmp_path / "out")]) == 0
    card = (tmp_path / "out" / "DATASET.md").read_text(encoding="utf-8")
    assert "`mi_quality != low`" in card and "demonstration transcripts | left out" in card
    assert "| minimum rating | 3" in card


# Splits and the leakage check see identical prompts ##########################


def test_similar_pairs_agrees_with_brute_force() -> None:
    rng = random.Random(5)
    words = "a b c d e f g h i j".split()
    base = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 30))) for _ in range(120)]
    texts = sorted({*base, *(t + " x" for t in base[:40]), *(t.replace("a", "b", 1) for t in base[40:80])})

    def shingles(t: str) -> set:  # word bigrams, the documented rule
        w = t.split()
        return {tuple(w[k:k + 2]) for k in range(len(w) - 1)} if len(w) >= 2 else {tuple(w)}

    for threshold in (0.5, 0.8, 0.9):
        expected = set()
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                a, b = shingles(texts[i]), shingles(texts[j])
                if len(a & b) / len(a | b) >= threshold:
                    expected.add((i, j))
        assert {(i, j) for i, j, _ in similar_pairs(texts, threshold)} == expected


QUESTION = ("I have been feeling anxious every single night before work and I cannot fall asleep "
            "until three in the morning, what should I do about it?")


def test_targets_answering_the_same_client_text_share_a_split(store: Store) -> None:
    populate(store, n_sessions=40)
    # one question answered by six therapists (six transcripts, no client key), as in counsel-chat,
    # plus near-duplicate wordings of it and a short prompt everyone says
    twins = [add_session(store, _session(f"q{i}", QUESTION, client_key=None), f"q{i}") for i in range(6)]
    twins.append(add_session(store, _session("near", QUESTION.replace("every single night", "every night"),
                                             client_key=None), "near"))
    short = [add_session(store, _session(f"s{i}", "Yeah.", client_key=None), f"s{i}") for i in range(8)]
    for seed in range(4):
        rows = _rows(store, build_dataset(store, f"d{seed}", DatasetRules(seed=seed, split=(50, 25, 25))).name)
        split_of = {r.transcript_id: r.split for r in rows}
        assert len({split_of[t] for t in twins}) == 1, seed
        # short prompts identify nothing: they do not tie sessions together
        if seed == 0:
            spread = {split_of[t] for t in short}
    assert len(spread) > 1


def test_leakage_check_fails_on_exact_and_near_duplicate_prompts() -> None:
    q = normalise(QUESTION)
    near = normalise(QUESTION.replace("every single night", "every night"))
    other = normalise("My partner and I keep arguing about money and chores and I do not know how to stop it")
    ok = [LeakageItem(TurnId(1), "test", 1, None, "a", q), LeakageItem(TurnId(2), "test", 2, None, "b", q),
          LeakageItem(TurnId(3), "train", 3, None, "c", other), LeakageItem(TurnId(4), "train", 4, None, "d", "yeah"),
          LeakageItem(TurnId(5), "test", 5, None, "e", "yeah")]
    check_leakage(ok)
    with pytest.raises(LeakageError, match="test target turn 1 and train target turn 6 answer the same client text"):
        check_leakage([*ok, LeakageItem(TurnId(6), "train", 6, None, "f", q)])
    with pytest.raises(LeakageError, match="near-identical client texts"):
        check_leakage([*ok, LeakageItem(TurnId(7), "validation", 7, None, "g", near)])


def test_a_frozen_test_question_keeps_its_later_answers_out_of_training(store: Store) -> None:
    populate(store, n_sessions=40)
    first_answer = add_session(store, _session("q0", QUESTION, client_key=None), "q0")
    build_dataset(store, "probe", DatasetRules(seed=0, split=(50, 25, 25)))
    seed = next(s for s in range(40) if {r.split for r in _rows(store, build_dataset(
        store, f"try{s}", DatasetRules(seed=s, split=(50, 25, 25))).name) if r.transcript_id == first_answer} == {"test"})
    for name in [d.name for d in ds_store.list_datasets(store)][::-1]:
        ds_store.delete_dataset(store, name)
    build_dataset(store, "frozen", DatasetRules(seed=seed, split=(50, 25, 25), freeze_test=True))
    later = add_session(store, _session("q1", QUESTION.upper() + "!!", client_key="someone-new"), "q1")
    record = build_dataset(store, "later", DatasetRules(seed=1))
    assert later not in {r.transcript_id for r in _rows(store, "later") if r.split != "test"}
    assert record.counts["removed"]["same_prompt_as_test"] == 1


@pytest.mark.skipif(not COUNSEL_CHAT.exists(), reason=f"counsel-chat data not present at {COUNSEL_CHAT}")
def test_counsel_chat_splits_share_no_client_text(store: Store) -> None:
    # Each answer as its own transcript with no client key: the hand conversion the issue describes.
    with COUNSEL_CHAT.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["questionText"].strip() and r["answerText"].strip()]
    with store.transaction():
        for n, r in enumerate(rows):
            parsed = ParsedTranscript(
                title=r["questionTitle"], format="test", category=Category.OTHER,
                turns=[turn(Role.CLIENT, r["questionText"]), turn(Role.THERAPIST, r["answerText"])],
                metadata={"topic": r["topic"], "upvotes": int(r["upvotes"] or 0)},
            )
            transcript_store.insert_transcript(store, parsed, source_path="counsel-chat.csv", content_hash=f"cc-{n}")
    record = build_dataset(store, "cc", DatasetRules())
    texts = {tid: normalise(text) for tid, text in store.conn.execute(
        "SELECT transcript_id, text FROM turns WHERE role = 'client'")}
    by_split: dict[str, set[str]] = defaultdict(set)
    for r in _rows(store, "cc"):
        by_split[r.split].add(texts[r.transcript_id])
    assert record.counts["splits"]["test"] > 50
    assert not by_split["test"] & (by_split["train"] | by_split["validation"])
    assert not by_split["validation"] & by_split["train"]
    near = similar_pairs(sorted(by_split["test"] | by_split["train"]))
    keys = sorted(by_split["test"] | by_split["train"])
    assert not [(i, j) for i, j, _ in near if (keys[i] in by_split["test"]) != (keys[j] in by_split["test"])]


@needs_annomi
def test_a_default_annomi_dataset_holds_no_low_quality_session(tmp_path: Path) -> None:
    home = str(tmp_path / "ws")
    assert main(["--home", home, "import", str(ANNOMI_SIMPLE)]) == 0
    assert main(["--home", home, "dataset", "build", "d"]) == 0
    with open_store(Path(home)) as store:
        quality = {t.id: t.metadata.get("mi_quality") for t in transcript_store.list_transcripts(store)}
        if "low" not in quality.values():
            pytest.skip("this AnnoMI import keeps no mi_quality metadata")
        rows = _rows(store, "d")
        assert rows and all(quality[r.transcript_id] == "high" for r in rows)
        assert ds_store.get_dataset(store, "d").counts["removed"]["session rule: mi_quality != low"] > 0


# Stable example ids ########################################################


def test_example_ids_come_from_the_source_not_the_build(tmp_path: Path) -> None:
    with open_store(tmp_path / "a") as a, open_store(tmp_path / "b") as b:
        populate(a, n_sessions=30, seed=7)
        populate(b, n_sessions=5, seed=99)  # other transcripts first: other row ids
        populate(b, n_sessions=30, seed=7)
        ids_a = {r.example_id: r.target_words for r in _rows(a, build_dataset(a, "x", DatasetRules()).name)}
        again = {r.example_id for r in _rows(a, build_dataset(a, "y", DatasetRules(seed=3)).name)}
        assert again == set(ids_a)  # same targets, another split: same ids, in the same workspace
        ids_b = {r.example_id for r in _rows(b, build_dataset(b, "x", DatasetRules()).name)}
        assert set(ids_a) <= ids_b
        # a different context is a different example
        shorter = {r.example_id for r in _rows(a, build_dataset(a, "z", DatasetRules(context_turns=3)).name)}
        assert shorter != set(ids_a)


def test_rebuild_with_the_frozen_test_keeps_ids_and_replies_evaluate(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    with open_store(home) as store:
        populate(store, n_sessions=60)
        first = build_dataset(store, "v1", DatasetRules(freeze_test=True))
        test_rows = ds_store.examples_of(store, first.id, "test")
        lines = [json.dumps({"example_id": r.example_id, "response": f"Reply {n}. How does that feel?"})
                 for n, r in enumerate(test_rows)]
    replies = tmp_path / "base.jsonl"
    replies.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--home", str(home), "responses", "import", "--system", "base", str(replies)]) == 0
    with open_store(home) as store:
        populate(store, n_sessions=10, seed=42)  # new material, new decisions
        curation.exclude(store, [ds_store.examples_of(store, first.id, "train")[0].turn_id], rater="r",
                         reason=curation.ExcludeReason.OTHER)
        second = build_dataset(store, "v2", DatasetRules(seed=5))
        assert {r.example_id for r in ds_store.examples_of(store, second.id, "test")} == {
            r.example_id for r in test_rows}
        result = evaluate(store, "v2", ["base"])
        assert result.no_reply == {"base": 0}
        assert result.overall.systems["base"].n == len(test_rows)
        # replies belong to the item, not the dataset: deleting the old dataset keeps them for v2...
    capsys.readouterr()
    assert main(["--home", str(home), "evaluate", "v2", "--systems", "base"]) == 0
    with open_store(home) as store:
        store.conn.execute("DELETE FROM datasets WHERE name = 'v2'")  # the reuser first
        assert store.conn.execute("SELECT count(*) FROM responses").fetchone()[0] == len(test_rows)
        ds_store.delete_dataset(store, "v1")
        # ...and the last dataset holding an item takes its replies with it
        assert store.conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 0


def test_evaluate_refuses_missing_replies_per_system_unless_allowed(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ws"
    with open_store(home) as store:
        populate(store, n_sessions=60)
        record = build_dataset(store, "d", DatasetRules())
        test_rows = ds_store.examples_of(store, record.id, "test")
        save_replies(store, "half", [NewReply(r.example_id, "Go on.") for r in test_rows[::2]],
                     kind="imported", provenance={})
        save_replies(store, "full", [NewReply(r.example_id, "Go on.") for r in test_rows],
                     kind="imported", provenance={})
    capsys.readouterr()
    assert main(["--home", str(home), "evaluate", "d", "--systems", "full,half", "--json", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    lacking = len(test_rows) - len(test_rows[::2])
    assert f"system 'half' has no reply for {lacking} of {len(test_rows)} test items" in err
    assert "'full'" not in err and not (tmp_path / "o").exists()
    assert main(["--home", str(home), "evaluate", "d", "--systems", "full,half", "--allow-missing",
                 "--json", str(tmp_path / "o")]) == 0
    meta = json.loads((tmp_path / "o").read_text(encoding="utf-8"))["meta"]
    assert meta["no_reply"] == {"full": 0, "half": lacking}


# Small samples ###############################################################


def test_small_tables_keep_figures_but_no_intervals_and_p_values_never_round_to_zero(store: Store) -> None:
    populate(store, n_sessions=120, seed=8)
    record = build_dataset(store, "d", DatasetRules(split=(50, 10, 40)))
    test_rows = ds_store.examples_of(store, record.id, "test")
    save_replies(store, "terse", [NewReply(r.example_id, "Ok.") for r in test_rows], kind="imported", provenance={})
    result = evaluate(store, "d", ["therapist", "terse"], resamples=50)
    out = result.to_json()
    assert out["overall"]["note"] is None and out["overall"]["intervals"]["terse"]["avg_length_diff"] is not None
    p = out["overall"]["paired"][0]["avg_length_diff"]["wilcoxon_p"]
    assert len(test_rows) > 40 and 0 < p < 1e-6  # every reference is longer than "Ok.": tiny, never 0.0
    small = [name for name, block in result.categories.items() if 0 < block.n < result.min_items]
    big = [name for name, block in result.categories.items() if block.n >= result.min_items]
    assert small or big
    for name in small:
        block = out["categories"][name]
        assert f"only {block['n']} test items" in block["note"]
        assert block["systems"]["terse"]["avg_length_diff"] is not None  # the figures stay
        assert block["intervals"]["terse"]["avg_length_diff"] is None
        assert block["paired"][0]["avg_length_diff"]["wilcoxon_p"] is None
        assert block["paired"][0]["avg_length_diff"]["interval"] is None
    for name in big:
        assert out["categories"][name]["note"] is None
    tiny = evaluate(store, "d", ["therapist", "terse"], resamples=50, min_items=10_000).to_json()
    assert "at least 10000" in tiny["overall"]["note"]
    assert tiny["overall"]["paired"][0]["avg_length_diff"]["wilcoxon_p"] is None
    assert tiny["overall"]["systems"]["terse"]["avg_length_diff"] == out["overall"]["systems"]["terse"]["avg_length_diff"]



def test_migration_0007_keeps_replies_and_lets_two_datasets_share_an_item(tmp_path: Path) -> None:
    import shutil

    from tests.fixtures.make_workspaces import fixture_path

    old = fixture_path("0007_stable_example_ids")
    home = tmp_path / "ws"
    home.mkdir()
    shutil.copy(old, home / "attune.db")
    with open_store(home) as store:
        assert store.conn.execute("SELECT example_id FROM responses").fetchall() == [("d-000003",)]
        row = store.conn.execute("SELECT * FROM dataset_examples WHERE example_id = 'd-000003'").fetchone()
        store.conn.execute("INSERT INTO datasets (id, name, created_at, rules, seed, counts, content_hash) "
                           "VALUES (2, 'copy', 'now', '{}', 0, '{}', '')")
        store.conn.execute("INSERT INTO dataset_examples VALUES (?, 2, ?, ?, ?, ?, ?, ?)", [row[0], *row[2:]])
        ds_store.delete_dataset(store, "sleep-v1")
        assert store.conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 1  # still held by 'copy'
        ds_store.delete_dataset(store, "copy")
        assert store.conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 0


def test_a_p_value_that_underflows_is_an_upper_bound_not_zero() -> None:
    from core.evaluation.evaluate import _p
    from core.evaluation.stats import wilcoxon_signed_rank

    assert wilcoxon_signed_rank([1.0 + i % 7 for i in range(5000)]).p_value == 0.0  # the float underflows
    assert 0 < _p(0.0) < 1e-300 and _p(3.14159265e-12) == 3.14159e-12 and _p(None) is None


def test_migration_0007_tags_demos_an_earlier_version_imported(tmp_path: Path) -> None:
    import shutil
    import sqlite3

    from tests.fixtures.make_workspaces import fixture_path

    home = tmp_path / "ws"
    home.mkdir()
    shutil.copy(fixture_path("0007_stable_example_ids"), home / "attune.db")
    conn = sqlite3.connect(home / "attune.db")
    with conn:
        conn.execute("INSERT INTO transcripts (title, source_path, content_hash, format, imported_at) VALUES "
                     "('Maya', '/opt/Attune/_internal/resources/demo/01-anxiety-maya.txt', 'h-demo', 'text', 'x')")
        conn.execute("INSERT INTO transcripts (title, source_path, content_hash, format, imported_at) VALUES "
                     "('Daniel', ?, 'h-demo-2', 'text', 'x')",
                     ["C:\\Program Files\\Attune\\_internal\\resources\\demo\\02-depression-daniel.txt"])
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('demo_imported', 'true')")
    conn.close()
    with open_store(home) as store:
        tagged = {t.title: t.metadata.get("demo") for t in transcript_store.list_transcripts(store)}
    assert tagged.pop("Maya") is True and tagged.pop("Daniel") is True
    assert set(tagged.values()) == {None}  # the clinician's own sessions are untouched
