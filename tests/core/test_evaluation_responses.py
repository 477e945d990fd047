"""Importing a system's replies: all or nothing, every problem with its line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from core.errors import UsageError, ValidationError
from core.evaluation.responses import ResponsesRejected, import_responses
from core.evaluation.sample import build_sample_dataset
from core.evaluation.systems import list_systems
from core.store import responses as response_store


@pytest.fixture
def dataset(store):
    build_sample_dataset(store)
    return store


def _write(tmp_path: Path, lines: list[object], name: str = "replies.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8"
    )
    return path


def _count(store) -> int:
    return store.conn.execute("SELECT count(*) FROM responses").fetchone()[0]


def test_import_stores_replies_with_their_states(dataset, tmp_path: Path) -> None:
    path = _write(tmp_path, [
        {"example_id": "ex-90000001", "response": "Go on."},
        "",
        {"example_id": "ex-90000002", "response": "  "},
        {"example_id": "ex-90000003", "blocked": True, "reason": "SAFETY"},
    ])
    out = import_responses(dataset, "base", path)
    assert out.changes.responses
    report = out.value
    assert (report.imported, report.blocked, report.empty_lines, report.created_system) == (3, 1, [3], True)
    assert report.by_dataset == {"sample-evaluation": 3}
    rows = dataset.conn.execute("SELECT example_id, state, detail FROM responses ORDER BY example_id").fetchall()
    assert rows == [("ex-90000001", "ok", ""), ("ex-90000002", "empty", ""), ("ex-90000003", "blocked", "SAFETY")]
    base = next(s for s in list_systems(dataset) if s.name == "base")
    assert (base.kind, base.replies, base.by_state) == ("imported", 3, {"ok": 1, "empty": 1, "blocked": 1})
    assert list_systems(dataset)[0].name == "therapist"
    assert list_systems(dataset)[0].replies == 4  # the sample's test items


def test_every_problem_is_reported_and_nothing_is_written(dataset, tmp_path: Path) -> None:
    path = _write(tmp_path, [
        {"example_id": "ex-90000001", "response": "Fine."},          # 1 ok
        {"example_id": "ex-99999999", "response": "Who?"},           # 2 unknown
        {"example_id": "ex-90000005", "response": "Train item."},    # 3 not a test item
        {"example_id": "ex-90000001", "response": "Again."},         # 4 duplicate of line 1
        "{not json",                                                  # 5
        {"example_id": "ex-90000002"},                                # 6 no response
        ["a", "list"],                                                # 7 not an object
        {"example_id": 7, "response": "x"},                           # 8 id not a string
        {"example_id": "ex-90000003", "response": 5},                 # 9 response not a string
    ])
    with pytest.raises(ResponsesRejected) as info:
        import_responses(dataset, "base", path)
    problems = info.value.problems
    where = [p.split(": ")[0] for p in problems]
    assert sorted(where, key=lambda w: int(w.rsplit(":", 1)[1])) == [f"{path}:{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9)]
    text = "\n".join(problems)
    assert "unknown example id 'ex-99999999'" in text
    assert "'ex-90000005' is a train item of dataset 'sample-evaluation'" in text
    assert "'ex-90000001' is answered twice (first on line 1)" in text
    assert str(info.value).startswith(f"{path}:") and "nothing was imported" in str(info.value)
    assert _count(dataset) == 0
    assert response_store.find_system(dataset, "base") is None


def test_stored_replies_are_refused_unless_replaced(dataset, tmp_path: Path) -> None:
    first = _write(tmp_path, [{"example_id": "ex-90000001", "response": "One."}], "a.jsonl")
    second = _write(tmp_path, [{"example_id": "ex-90000001", "response": "Two."},
                               {"example_id": "ex-90000002", "response": "Three."}], "b.jsonl")
    import_responses(dataset, "base", first)
    with pytest.raises(ResponsesRejected, match=r"b.jsonl:1: system 'base' already has a reply to 'ex-90000001'"):
        import_responses(dataset, "base", second)
    assert _count(dataset) == 1
    report = import_responses(dataset, "base", second, replace=True).value
    assert (report.imported, report.replaced, report.created_system) == (2, 1, False)
    texts = dict(dataset.conn.execute("SELECT example_id, text FROM responses"))
    assert texts == {"ex-90000001": "Two.", "ex-90000002": "Three."}


def test_names_files_and_kinds_are_checked(dataset, tmp_path: Path) -> None:
    good = _write(tmp_path, [{"example_id": "ex-90000001", "response": "Ok."}])
    with pytest.raises(UsageError, match="built-in"):
        import_responses(dataset, "Therapist", good)
    with pytest.raises(UsageError, match="system name"):
        import_responses(dataset, "bad name/..", good)
    with pytest.raises(ValidationError, match="kind"):
        import_responses(dataset, "x", good, kind="oracle")
    with pytest.raises(ValidationError, match="no replies in the file"):
        import_responses(dataset, "x", _write(tmp_path, ["", "  "], "empty.jsonl"))
    bad_utf8 = tmp_path / "latin.jsonl"
    bad_utf8.write_bytes(b'{"example_id": "ex-90000001", "response": "caf\xe9"}\n')
    with pytest.raises(ResponsesRejected, match="latin.jsonl:1: not UTF-8"):
        import_responses(dataset, "x", bad_utf8)
    with pytest.raises(ValidationError, match="cannot be read"):
        import_responses(dataset, "x", tmp_path / "absent.jsonl")
    assert _count(dataset) == 0


def test_a_byte_order_mark_is_accepted(dataset, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"example_id": "ex-90000001", "response": "Hi."}).encode() + b"\n")
    assert import_responses(dataset, "base", path).value.imported == 1


def test_cli_import_and_systems(dataset, tmp_path: Path, capsys) -> None:
    home = str(dataset.path.parent)
    dataset.close()
    good = _write(tmp_path, [{"example_id": "ex-90000001", "response": "Go on."},
                             {"example_id": "ex-90000002", "response": ""}])
    assert main(["--home", home, "responses", "import", "--system", "base", str(good)]) == 0
    out = capsys.readouterr().out
    assert "2 replies imported for system 'base'" in out
    assert f"{good}:2: empty reply" in out
    bad = _write(tmp_path, [{"example_id": "nope", "response": "x"}], "bad.jsonl")
    assert main(["--home", home, "responses", "import", "--system", "base", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:1: unknown example id 'nope'" in err and "nothing was imported" in err
    assert main(["--home", home, "responses", "import", "--system", "base", str(tmp_path / "none.jsonl")]) == 2
    capsys.readouterr()
    assert main(["--home", home, "systems"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SYSTEM", "KIND", "REPLIES", "EMPTY/BLOCKED", "DATASETS"]
    assert lines[2].split()[:3] == ["therapist", "therapist", "4"]
    assert lines[3].split() == ["base", "imported", "2", "1", "sample-evaluation"]
    assert main(["--home", home, "systems", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows[1] == {"name": "base", "kind": "imported", "replies": 2, "by_state": {"ok": 1, "empty": 1},
                       "datasets": ["sample-evaluation"], "builtin": False}


def test_cli_delete_a_system(dataset, tmp_path: Path, capsys) -> None:
    home = str(dataset.path.parent)
    dataset.close()
    good = _write(tmp_path, [{"example_id": "ex-90000001", "response": "Go on."}])
    assert main(["--home", home, "responses", "import", "--system", "base", str(good)]) == 0
    assert main(["--home", home, "responses", "delete", "--system", "base"]) == 0
    assert "deleted system 'base' and its 1 reply" in capsys.readouterr().out
    assert main(["--home", home, "responses", "delete", "--system", "base"]) == 1
    assert "no system named 'base'" in capsys.readouterr().err
    assert main(["--home", home, "responses", "delete", "--system", "therapist"]) == 2


def test_a_generator_stores_replies_with_provenance_through_the_same_checks(dataset) -> None:
    from core.evaluation import evaluate
    from core.evaluation.responses import NewReply, save_replies

    replies = [
        NewReply("ex-90000001", "Tell me more.", provenance={"request": "r-1"}),
        NewReply("ex-90000002", "", blocked=True, detail="SAFETY", provenance={"request": "r-2"}),
    ]
    out = save_replies(dataset, "gemini-base", replies, kind="base_model",
                       provenance={"model": "gemini-x", "temperature": 0.0})
    assert out.changes.responses and out.value.created_system
    info = next(s for s in list_systems(dataset) if s.name == "gemini-base")
    assert (info.kind, info.provenance, info.by_state) == (
        "base_model", {"model": "gemini-x", "temperature": 0.0}, {"ok": 1, "blocked": 1})
    row = dataset.conn.execute(
        "SELECT provenance, detail FROM responses WHERE example_id = 'ex-90000002'").fetchone()
    assert (json.loads(row[0]), row[1]) == ({"request": "r-2"}, "SAFETY")
    scores = evaluate(dataset, "sample-evaluation", ["gemini-base"]).overall.systems["gemini-base"]
    assert (scores.n, scores.missing) == (1, 3)
    with pytest.raises(ValidationError, match=r"reply 1 \(ex-90000001\): system 'gemini-base' already has"):
        save_replies(dataset, "gemini-base", replies[:1], kind="base_model", provenance={})
    with pytest.raises(ValidationError, match=r"reply 2 \(ex-90000001\): 'ex-90000001' is answered twice"):
        save_replies(dataset, "other", [replies[0], replies[0]], kind="base_model", provenance={})
    assert _count(dataset) == 2


# Hostile reply files (issue 11) ###############################################


@pytest.mark.parametrize(("line", "reason"), [
    ('{"example_id": "ex-90000001", "response": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ('{"example_id": "ex-90000001", "response": "x", "n": ' + "9" * 5000 + "}", "a number with too many digits"),
    ('{"example_id": "ex-90000001", "response": NaN}', "NaN is not a JSON value"),
    ('{"example_id": "ex-90000001", "response": "x", "p": 1e999}', "1e999 is out of range"),
])
def test_json_python_would_bend_is_a_numbered_problem(dataset, tmp_path: Path, line: str, reason: str) -> None:
    path = _write(tmp_path, [line])
    with pytest.raises(ResponsesRejected) as info:
        import_responses(dataset, "base", path)
    assert info.value.problems == [f"{path}:1: not valid JSON ({reason})"]
    assert _count(dataset) == 0


def test_lone_surrogates_and_nuls_are_stored_cleanly(dataset, tmp_path: Path) -> None:
    path = _write(tmp_path, ['{"example_id": "ex-90000001", "response": "A\\u0000B \\udc00C"}'])
    import_responses(dataset, "base", path)
    assert dataset.conn.execute("SELECT text FROM responses").fetchone()[0] == "AB \ufffdC"


def test_cli_gives_one_line_however_many_problems(dataset, tmp_path: Path, capsys) -> None:
    home = str(dataset.path.parent)
    dataset.close()
    bad = _write(tmp_path, ["{oops"] * 50 + [{"example_id": "nope", "response": "x"}], "many.jsonl")
    assert main(["--home", home, "responses", "import", "--system", "base", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"attune: {bad}:1: not valid JSON") and "(and 50 more problems)" in err


@pytest.mark.parametrize("make", ["fifo", "device"])
def test_only_regular_files_are_read(dataset, tmp_path: Path, make: str) -> None:
    import os
    import signal

    path = tmp_path / "replies.jsonl"
    if make == "fifo":
        os.mkfifo(path)  # opening it for reading would block until someone writes
        reason = "named pipe"
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
        reason = "character device"
    def hung(*_):  # a regression must fail, not hang the suite
        raise TimeoutError(f"reading {make} hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with pytest.raises(ValidationError, match=reason):
            import_responses(dataset, "base", path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
