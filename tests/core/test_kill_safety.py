"""SIGKILL at random moments loses no decision that was reported as made.

A child process opens the workspace and records decisions (single turns, and
every seventh step a bulk step over all turns) in a loop; after
each call returns it prints the decision to stdout (flushed), which is what
the screen showing it as made corresponds to. The parent reads a random
number of lines, waits a random instant and kills the child with SIGKILL,
then checks that every reported decision is in the store, in order, that
the derived state matches the log, and that the database is intact.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import curation
from core.store import open_store
from tests.core.test_curation_helpers import seed

RUNS = 30
REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys
from pathlib import Path
from core import curation
from core.store import open_store

workspace, rater = sys.argv[1], sys.argv[2]
store = open_store(Path(workspace))
turns = [t for t, _ in curation.eligible_turn_ids(store, min_words=0)]
reasons = list(curation.ExcludeReason)
i = k = 0
while True:
    if i % 7 == 6:
        # A bulk step: all of it or none of it must survive the kill.
        flag = (i // 7) % 2 == 0
        turn, action, value = 0, "flag" if flag else "unflag", str(len(turns))
        changes = curation.set_flag(store, turns, rater=rater, flagged=flag)
    else:
        turn = turns[k % len(turns)]
        visit = k // len(turns)
        k += 1
        # include → exclude(note) → rate, per turn: every step changes the state.
        if visit % 3 == 0:
            action, value = "include", ""
            changes = curation.include(store, [turn], rater=rater)
        elif visit % 3 == 1:
            action, value = "exclude", f"{rater} step {i}"
            changes = curation.exclude(store, [turn], rater=rater, reason=reasons[i % len(reasons)], note=value)
        else:
            action, value = "rate", str(1 + visit % 5)
            changes = curation.rate(store, [turn], rater=rater, rating=int(value))
    if not changes.decisions:
        sys.exit(f"step {i} changed nothing")
    sys.stdout.write(f"{i}\t{turn}\t{action}\t{value}\n")
    sys.stdout.flush()
    i += 1
"""


def _run_and_kill(workspace: Path, rater: str, rng: random.Random) -> list[tuple[int, int, str, str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(workspace), rater],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )
    assert child.stdout is not None and child.stderr is not None
    wanted = rng.randint(1, 40)
    lines: list[str] = []
    try:
        while len(lines) < wanted:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"child ended early ({child.wait()}): {child.stderr.read()[-2000:]}")
            lines.append(line)
        time.sleep(rng.uniform(0, 0.004))
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        rest = child.stdout.read()  # printed before the kill, still in the pipe: reported too
        child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    lines += rest.splitlines(keepends=True)
    reported = []
    for line in lines:
        if not line.endswith("\n"):
            break  # cut off mid-write: never fully reported
        i, turn, action, value = line.rstrip("\n").split("\t")
        reported.append((int(i), int(turn), action, value))
    return reported


def _logged(store, rater: str) -> list[tuple[int, str, str]]:
    """One (turn, action, value) per step of the rater; bulk steps as (0, action, row count)."""
    rows = store.conn.execute(
        "SELECT d.batch, d.turn_id, d.action, d.rating, d.note FROM decisions d "
        "JOIN decision_batches b ON b.batch = d.batch WHERE b.rater = ? ORDER BY d.id",
        [rater],
    ).fetchall()
    steps: dict[int, list[tuple]] = {}
    for batch, turn, action, rating, note in rows:
        steps.setdefault(batch, []).append((turn, action, rating, note))
    out = []
    for batch_rows in steps.values():
        turn, action, rating, note = batch_rows[0]
        if action in ("flag", "unflag"):
            assert {r[1] for r in batch_rows} == {action}
            out.append((0, action, str(len(batch_rows))))
            continue
        assert len(batch_rows) == 1
        value = "" if action == "include" else note if action == "exclude" else str(rating)
        out.append((turn, action, value))
    return out


def _check_run(store, rater: str, reported: list[tuple[int, int, str, str]], n_turns: int) -> None:
    logged = _logged(store, rater)
    expected = [(turn, action, value) for _, turn, action, value in reported]
    assert [r[0] for r in reported] == list(range(len(reported)))
    assert logged[: len(expected)] == expected, f"{rater}: a reported decision is missing"
    # At most the one step that committed but was killed before printing,
    # and that one whole too (a bulk step is never cut in half).
    assert len(logged) - len(expected) in (0, 1)
    assert all(value == str(n_turns) for _, action, value in logged if action in ("flag", "unflag"))
    assert store.conn.execute(
        "SELECT count(*) FROM decision_batches b WHERE rater = ? "
        "AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.batch = b.batch)", [rater]
    ).fetchone()[0] == 0


@pytest.mark.slow
def test_sigkill_never_loses_a_reported_decision(workspace: Path) -> None:
    with open_store(workspace) as store:
        seed(store)
        n_turns = len(curation.eligible_turn_ids(store, min_words=0))
    rng = random.Random(20261125)
    runs: list[tuple[str, list]] = []
    for n in range(RUNS):
        rater = f"kill-run-{n:02d}"
        reported = _run_and_kill(workspace, rater, rng)
        assert reported, "the child reported nothing"
        runs.append((rater, reported))
        with open_store(workspace) as store:  # quick_check on open, WAL recovery
            _check_run(store, rater, reported, n_turns)

    with open_store(workspace) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for rater, reported in runs:
            _check_run(store, rater, reported, n_turns)
        # The derived state is exactly the last log row per (turn, rater).
        derived = set(store.conn.execute(
            "SELECT turn_id, rater, status, rating, reason, note, flagged FROM rater_turn_state"
        ).fetchall())
        latest = set(store.conn.execute(
            "SELECT turn_id, rater, status, rating, reason, note, flagged FROM decisions d "
            "WHERE id = (SELECT max(id) FROM decisions e WHERE e.turn_id = d.turn_id AND e.rater = d.rater)"
        ).fetchall())
        assert derived == latest
        # Undo still works after the crashes: one step back for the last run.
        rater, reported = runs[-1]
        assert curation.undo(store, rater=rater).value is not None
    # The figures docs/reliability.md quotes (pytest -s shows them).
    print(f"kill safety: {RUNS} SIGKILLs, {RUNS} survived, "
          f"{sum(len(r) for _, r in runs)} reported decisions, 0 lost, integrity_check ok")
