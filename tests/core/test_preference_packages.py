"""Rater packages: nothing derivable in them, terminal rating, merge and duplicates; the CLI end to end."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from cli import main
from core.errors import MalformedInput, ValidationError
from core.evaluation.responses import NewReply, save_replies
from core.evaluation.systems import list_systems
from core.preference import packages, sessions
from core.preference.sessions import DuplicateVote, SessionSpec
from core.store import open_store
from core.store import preference as pref_store
from tests.conftest import ANNOMI_SIMPLE, needs_annomi
from tests.core.preference_fixtures import DATASET, build_ab_workspace, example_id

MODEL_ID = "acme-chat-7b-instruct"


@pytest.fixture
def ab(store, tmp_path: Path):
    build_ab_workspace(store, tmp_path / "replies")
    save_replies(store, "gen-model", [NewReply(example_id(n), f"Go on,   tell me more ({n}).",
                                               provenance={"request": {"model": MODEL_ID, "temperature": 0.7},
                                                           "finish_reason": "STOP"})
                                      for n in range(12)],
                 kind="tuned_model", provenance={"model": MODEL_ID, "source": "generated"})
    return store


def _session(store, raters=("ann", "bob"), **kw) -> int:
    spec = SessionSpec(DATASET, ("base", "tuned", "gen-model", "therapist"), raters, seed=5, **kw)
    return sessions.create_session(store, spec).value.session_id


def _identity_strings(store) -> set[str]:
    """Every system name, kind, model id and provenance value a package must not contain."""
    out: set[str] = set()
    for s in list_systems(store):
        out |= {s.name, s.kind}
        for v in s.provenance.values():
            if isinstance(v, str):
                out.add(v)
    for (prov, detail) in store.conn.execute("SELECT provenance, detail FROM responses"):
        for v in json.loads(prov).values():
            out.add(json.dumps(v) if not isinstance(v, str) else v)
        if detail:
            out.add(detail)
    out |= {MODEL_ID, "STOP", "finish_reason", "left_system", "right_system", "example_id", "ex-ab"}
    # Line numbers and the temperature are numbers any text may hold; names and ids are what leak.
    return {s for s in out if s and not re.fullmatch(r"[0-9.]+", s)}


def _without_roles(package: dict) -> str:
    # Context turns carry the role "therapist" (who spoke in the session), which names
    # no side; everything else in the file is searched.
    stripped = json.loads(json.dumps(package))
    for item in stripped["items"]:
        for turn in item["context"]:
            assert turn.pop("role") in ("client", "therapist")
    return json.dumps(stripped, ensure_ascii=False)


def test_a_package_holds_nothing_that_names_a_system(ab, tmp_path: Path) -> None:
    sid = _session(ab)
    out = tmp_path / "ann.json"
    n = packages.write_package(ab, sid, "ann", out)
    package = json.loads(out.read_text(encoding="utf-8"))
    assert n == len(package["items"]) == 12 * 6
    assert set(package) == {"format", "version", "session", "rater", "instructions", "choices", "items",
                            "items_sha256", "votes"}
    text = _without_roles(package).lower()
    for needle in _identity_strings(ab):
        assert needle.lower() not in text, f"package contains {needle!r}"
    for item in package["items"]:
        assert set(item) == {"id", "context", "response_a", "response_b"}
        assert re.fullmatch(r"k-[0-9a-f]{16}", item["id"])
        for side in ("response_a", "response_b"):
            assert "  " not in item[side] and item[side] == item[side].strip()  # whitespace normalised
    # The session token is random, not derived from the systems or the dataset.
    assert re.fullmatch(r"[0-9a-f]{32}", package["session"])


def test_nothing_in_the_package_predicts_the_side(ab, tmp_path: Path) -> None:
    """Sides are balanced and the order is shuffled: neither the order nor ids give a side away."""
    sid = _session(ab)
    packages.write_package(ab, sid, "ann", tmp_path / "ann.json")
    package = json.loads((tmp_path / "ann.json").read_text(encoding="utf-8"))
    by_key = {a.item_key: a for a in pref_store.assignments(ab, sid, "ann")}
    left = [by_key[i["id"]].left_system for i in package["items"]]
    for s in ("base", "tuned", "gen-model", "therapist"):
        first_half = left[: len(left) // 2].count(s)
        assert abs(left.count(s) - 18) <= 1  # 36 appearances each, half of them on the left
        assert first_half < left.count(s)  # not all of one system's left showings up front
    # The items' order is not the example ids' order.
    eids = [by_key[i["id"]].example_id for i in package["items"]]
    assert eids != sorted(eids)
    # Sorting by key gives no side pattern either: keys are random.
    keys_sorted = sorted(package["items"], key=lambda i: i["id"])
    assert [by_key[i["id"]].left_system for i in keys_sorted] != sorted(left)


def test_rate_in_terminal_then_merge_and_refuse_duplicates(ab, tmp_path: Path) -> None:
    sid = _session(ab, raters=("ann", "bob"))
    path = tmp_path / "bob.json"
    packages.write_package(ab, sid, "bob", path)
    shown: list[str] = []
    voted, left = packages.rate_in_terminal(path, io.StringIO("a\nhuh\nB\nt\n"), shown.append)
    assert (voted, left) == (3, 72 - 3)
    assert "please answer one of a, b, t, z, s" in shown
    assert shown[0].startswith("--- 1 / 72 ---")
    # Resumes where it stopped.
    voted, left = packages.rate_in_terminal(path, io.StringIO("z\ns\n"), shown.append)
    assert (voted, left) == (2, 72 - 5)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [v["choice"] for v in data["votes"]] == ["a", "b", "t", "z", "s"]

    report = packages.merge_package(ab, path, sid).value
    assert (report.rater, report.merged, report.unrated) == ("bob", 5, 67)
    with pytest.raises(DuplicateVote, match="merged before"):
        packages.merge_package(ab, path, sid)
    keys = [v["id"] for v in data["votes"]]
    by_key = {a.item_key: a.id for a in pref_store.assignments(ab, sid, "bob")}
    votes = pref_store.current_votes(ab, sid)
    assert [votes[by_key[k]].choice for k in keys] == ["a", "b", "t", "z", "s"]
    assert len(votes) == 5  # the refused merge wrote nothing

    # A new package for bob holds only what is still unrated.
    assert packages.write_package(ab, sid, "bob", tmp_path / "bob2.json") == 67


def test_merge_checks_the_package_belongs(ab, tmp_path: Path) -> None:
    sid = _session(ab)
    other = _session(ab)
    path = tmp_path / "ann.json"
    packages.write_package(ab, sid, "ann", path)
    with pytest.raises(ValidationError, match="does not belong to A/B session"):
        packages.merge_package(ab, path, other)
    # Tampered items are refused before anything is read into the session.
    data = json.loads(path.read_text(encoding="utf-8"))
    data["items"][0]["response_a"] = "changed"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MalformedInput, match="changed after it was written"):
        packages.merge_package(ab, path, sid)
    (tmp_path / "junk.json").write_text("{}", encoding="utf-8")
    with pytest.raises(MalformedInput, match="not a rating package"):
        packages.read_package(tmp_path / "junk.json")


def test_cli_end_to_end(tmp_path: Path, capsys, monkeypatch) -> None:
    home = tmp_path / "home"
    with open_store(home) as store:
        build_ab_workspace(store, tmp_path / "replies")
    h = ["--home", str(home)]
    assert main([*h, "ab", "new", "--dataset", DATASET, "--systems", "base,tuned,therapist",
                 "--raters", "ann,bob", "--seed", "4", "--items", "6", "--repeat-share", "0.2"]) == 0
    sid = capsys.readouterr().out.strip()
    assert sid.isdigit()

    # ann rates her package in the terminal, bob his; both merged back.
    for rater, answers in (("ann", "a\nb\nt\n" * 20), ("bob", "a\na\nb\nz\n" * 20)):
        pkg = tmp_path / f"{rater}.json"
        assert main([*h, "ab", "package", sid, "--rater", rater, "--out", str(pkg)]) == 0
        monkeypatch.setattr("sys.stdin", io.StringIO(answers))
        assert main(["ab", "rate-package", str(pkg)]) == 0
        assert main([*h, "ab", "merge", str(pkg), "--session", sid]) == 0
        assert main([*h, "ab", "merge", str(pkg)]) == 1  # duplicate votes refused
    capsys.readouterr()
    assert main([*h, "ab", "report", sid]) == 2  # still open
    assert "lock it first" in capsys.readouterr().err
    assert main([*h, "ab", "lock", sid]) == 0
    capsys.readouterr()
    assert main([*h, "ab", "report", sid, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert len(rep["votes"]) == 2 * (18 + round(0.2 * 18))
    assert set(rep["votes"][0]) >= {"item_id", "rater", "left_system", "right_system", "choice"}
    assert rep["agreement"]["cohen_kappa"] is not None
    assert rep["consistency"]["repeated"] > 0
    assert set(rep["bradley_terry"]["strengths"]) == {"base", "tuned", "therapist"}

    out = tmp_path / "prefs"
    assert main([*h, "ab", "export-preferences", sid, "--out", str(out)]) == 0
    trl = [json.loads(line) for line in (out / "preferences.trl.jsonl").read_text(encoding="utf-8").splitlines()]
    oai = [json.loads(line) for line in (out / "preferences.openai.jsonl").read_text(encoding="utf-8").splitlines()]
    assert trl and len(trl) == len(oai)
    assert set(trl[0]) == {"prompt", "chosen", "rejected"}
    assert trl[0]["prompt"][0] == {"role": "system", "content": "You are a therapist."}
    assert set(oai[0]) == {"input", "preferred_output", "non_preferred_output"}
    assert oai[0]["input"]["messages"] == trl[0]["prompt"]
    assert all(line["chosen"] != line["rejected"] for line in trl)
    card = (out / "PREFERENCES.md").read_text(encoding="utf-8")
    assert "ann, bob" in card and "Cohen's kappa" in card and "tie votes" in card
    assert main([*h, "ab", "report", sid, "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.csv").read_text(encoding="utf-8").startswith("scope,scope_value,x,y")


@needs_annomi
def test_real_annomi_session_through_a_package(tmp_path: Path, capsys, monkeypatch) -> None:
    """All of AnnoMI, a dataset, two imported reply files, then the whole A/B flow on the CLI."""
    from core.datasets.items import eval_items
    from core.store import datasets as ds_store

    home = tmp_path / "ws"
    h = ["--home", str(home)]
    assert main([*h, "import", str(ANNOMI_SIMPLE)]) == 0
    assert main([*h, "dataset", "build", "d"]) == 0
    with open_store(home) as store:
        items = eval_items(store, ds_store.get_dataset(store, "d").id)
    assert len(items) >= 10
    for system, reply in (("base", lambda i: "Can you tell me more about that?"),
                          ("tuned", lambda i: i.reference.split(". ")[0] + ".")):
        path = tmp_path / f"{system}.jsonl"
        path.write_text("".join(json.dumps({"example_id": i.example_id, "response": reply(i)}) + "\n"
                                for i in items), encoding="utf-8")
        assert main([*h, "responses", "import", "--system", system, str(path)]) == 0
    capsys.readouterr()
    assert main([*h, "ab", "new", "--dataset", "d", "--systems", "base,tuned,therapist", "--items", "10",
                 "--seed", "1", "--raters", "ann", "--leaks", "keep"]) == 0
    sid = capsys.readouterr().out.strip()
    pkg = tmp_path / "ann.json"
    assert main([*h, "ab", "package", sid, "--rater", "ann", "--out", str(pkg)]) == 0
    package = json.loads(pkg.read_text(encoding="utf-8"))
    assert len(package["items"]) == 30
    # Real conversation text may say "stop" or "my therapist"; search for what only metadata holds.
    text = _without_roles(package)
    with open_store(home) as store:
        example_ids = [r[0] for r in store.conn.execute("SELECT example_id FROM dataset_examples")]
    for needle in ["base.jsonl", "tuned.jsonl", "imported file", "base_model", "tuned_model", "left_system",
                   "right_system", "example_id", "\"system\"", *example_ids]:
        assert needle not in text, f"package contains {needle!r}"
    assert {k for item in package["items"] for k in item} == {"id", "context", "response_a", "response_b"}
    monkeypatch.setattr("sys.stdin", io.StringIO("a\nb\n" * 15))
    assert main(["ab", "rate-package", str(pkg)]) == 0
    assert main([*h, "ab", "merge", str(pkg)]) == 0
    assert main([*h, "ab", "lock", sid]) == 0
    capsys.readouterr()
    assert main([*h, "ab", "report", sid, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert len(rep["votes"]) == 30
    assert sum(p["decisive"] for p in rep["pairs"]) == 30
    assert rep["position_bias"]["a_picks"] == 15
