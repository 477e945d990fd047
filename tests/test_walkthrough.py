"""The README's first-hour walkthrough, run as written, so it cannot drift.

The fenced blocks after ``<!-- walkthrough: … -->`` markers run through bash
with ``HOME`` pointing at a temporary folder (the walkthrough keeps all its
files under ``~/attune-trial``) from the repository root (it imports
``resources/demo``). Between the two parts the test plays the models: it
answers every test item the export wrote, as the README asks the reader to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # subprocesses: seconds each

README = REPO / "README.md"
BLOCK = re.compile(r"<!-- walkthrough: ([^>]*?) -->\s*```sh\n(.*?)```", re.S)


def walkthrough_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def _run(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ATTUNE_HOME"}
    # The `attune` console script installed next to this interpreter (the .venv's).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_readme_has_the_walkthrough_right_after_the_two_make_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.index("```sh\nmake run")
    assert text.index("make test", first_block) < text.index("## Your first hour") < text.index("<!-- walkthrough")
    assert [name for name, _ in walkthrough_blocks()] == ["part 1, run by tests/test_walkthrough.py", "part 2, run by tests/test_walkthrough.py"]
    assert "docs/importing.md" in text and "ATTUNE_HOME" in text and "--home" in text
    assert "MAKE_TEST_TIME" in text or re.search(r"make test.*\d+ min", text, re.S)


@pytest.mark.skipif(shutil.which("bash") is None, reason="the walkthrough is written for a POSIX shell (bash)")
def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    if not (Path(sys.executable).parent / "attune").exists():
        pytest.skip("the attune console script is not installed next to this Python (run `make test`)")
    (part1, script1), (part2, script2) = walkthrough_blocks()
    # Every command is the CLI itself (plus setting ATTUNE_HOME), so a rename is caught here.
    for line in (script1 + script2).splitlines():
        line = line.split("#")[0].strip()
        assert not line or line.startswith(("attune ", "export ATTUNE_HOME=")), line

    first = _run(script1, tmp_path)
    assert first.returncode == 0, f"{part1}:\n{first.stdout[-3000:]}\n{first.stderr[-3000:]}"
    trial = tmp_path / "attune-trial"
    assert (trial / "attune.db").is_file()
    assert "6 transcripts imported, 0 failed" in first.stdout
    test_items = [json.loads(line) for line in (trial / "export" / "test.jsonl").read_text().splitlines()]
    assert test_items, "the walkthrough's dataset has no test item to evaluate"

    replies = trial / "replies"
    replies.mkdir()
    for system, answer in (("base", lambda item: "How are you feeling about that?"), ("tuned", _therapist_like)):
        with (replies / f"{system}.jsonl").open("w", encoding="utf-8") as f:
            for item in test_items:
                f.write(json.dumps({"example_id": item["example_id"], "response": answer(item)}) + "\n")

    # Part 2 runs in the reader's same shell: what part 1 exported still holds.
    exports = "\n".join(line for line in script1.splitlines() if line.startswith("export "))
    second = _run(exports + "\n" + script2, tmp_path)
    assert second.returncode == 0, f"{part2}:\n{second.stdout[-3000:]}\n{second.stderr[-3000:]}"
    assert "base" in second.stdout and "tuned" in second.stdout
    assert (trial / "report" / "evaluation.html").is_file()
    # Nothing outside the scratch workspace: the repository gained no file.
    assert not (REPO / "attune-trial").exists()


def _therapist_like(item: dict) -> str:
    # The real reply, shortened: a stand-in for a tuned model that learned something.
    return " ".join(item["messages"][-1]["content"].split()[:40])
