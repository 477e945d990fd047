"""Publishing folders all-or-nothing (core/files.py), and killing it at every step.

The kill tests run the real ``dataset export`` and ``evaluate --report``
publishing in a child process whose file-system steps (``os.rename``,
``os.replace``, ``os.fsync``, the folder exchange, the folder fsync and the
removal of the previous folder) are wrapped to SIGKILL the child at the N-th
step; N runs from 1 until a child finishes. After every kill the folder must
be exactly the previous complete export or exactly the new one (its
COMPLETE.json verifying), and the next run must leave no temporary behind.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core import files
from core.datasets import DatasetRules, build_dataset, export_dataset
from core.errors import UsageError
from core.evaluation import report
from core.evaluation.evaluate import evaluate
from core.evaluation.sample import SAMPLE_DATASET, build_sample
from core.files import MARKER, FolderPublisher, read_complete
from tests.core.datasets_fixtures import open_populated

REPO = Path(__file__).resolve().parents[2]

# A fork server: imports once, then forks one child per run, so a kill at each
# of ~20 steps costs milliseconds, not a Python start-up. Each child opens the
# store itself (a connection never crosses a fork).
SERVER = r"""
import os, signal, sys, traceback
from pathlib import Path
import core.files as files
from core.datasets import export_dataset
from core.evaluation import report
from core.evaluation.evaluate import evaluate
from core.store import open_store

workspace = Path(sys.argv[1])
store = open_store(workspace)
results = {s: evaluate(store, "sample-evaluation", s.split(","), seed=5, resamples=50)
           for s in ("base", "base,tuned")}
store.close()
real = os.rename, os.replace, os.fsync, files.exchange, files.fsync_dir, files._remove

def child(kind, which, out, kill_at, no_exchange):
    calls = [0]
    def step(fn):
        def wrapped(*a, **k):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*a, **k)
        return wrapped
    if no_exchange:
        files.exchange = lambda a, b: False
    if kill_at:
        os.rename, os.replace, os.fsync = step(os.rename), step(os.replace), step(os.fsync)
        files.exchange, files.fsync_dir, files._remove = step(files.exchange), step(files.fsync_dir), step(files._remove)
    if kind == "export":
        with open_store(workspace) as s:
            export_dataset(s, which, Path(out))
    else:
        report.write_report(results[which], Path(out))

print("ready", flush=True)
for line in sys.stdin:
    kind, which, out, kill_at, no_exchange = line.rstrip("\n").split("\t")
    pid = os.fork()
    if pid == 0:
        try:
            child(kind, which, out, int(kill_at), no_exchange == "1")
        except BaseException:
            traceback.print_exc()
            os._exit(3)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status), flush=True)
"""


class _Server:
    def __init__(self, workspace: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(workspace)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
        assert self.readline() == "ready"

    def readline(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def run(self, kind: str, which: str, out: Path, kill_at: int = 0, no_exchange: bool = False) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{kind}\t{which}\t{out}\t{kill_at}\t{1 if no_exchange else 0}\n")
        self.proc.stdin.flush()
        return int(self.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.attune-"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A workspace with two datasets and the evaluation sample; reference outputs of each."""
    root = tmp_path_factory.mktemp("publish")
    ws = root / "ws"
    store = open_populated(ws, n_sessions=30)
    build_dataset(store, "a", DatasetRules(seed=1))
    build_dataset(store, "b", DatasetRules(seed=2))
    build_sample(store, root / "replies")
    refs = {}
    for name in ("a", "b"):
        export_dataset(store, name, root / f"ref-{name}")
        refs[("export", name)] = _snapshot(root / f"ref-{name}")
    for systems in ("base", "base,tuned"):
        result = evaluate(store, SAMPLE_DATASET, systems.split(","), seed=5, resamples=50)
        report.write_report(result, root / f"ref-{systems}")
        refs[("report", systems)] = _snapshot(root / f"ref-{systems}")
    store.close()
    return ws, refs


@pytest.fixture(scope="module")
def server(prepared):
    if not hasattr(os, "fork"):
        pytest.skip("the kill tests fork a child per run (POSIX)")
    server = _Server(prepared[0])
    yield server
    server.close()


@pytest.mark.parametrize("kind,old,new", [("export", "a", "b"), ("report", "base", "base,tuned")])
@pytest.mark.parametrize("no_exchange", [False, True], ids=["exchange", "two-renames"])
def test_a_kill_at_every_step_leaves_the_previous_or_the_new_folder(prepared, server, tmp_path, kind, old, new,
                                                                    no_exchange):
    _, refs = prepared
    previous, fresh = refs[(kind, old)], refs[(kind, new)]
    assert previous != fresh
    kills = 0
    for kill_at in range(1, 200):
        out = tmp_path / f"out{kill_at}"
        assert server.run(kind, old, out, no_exchange=no_exchange) == 0
        assert _snapshot(out) == previous
        code = server.run(kind, new, out, kill_at, no_exchange)
        # What a consumer finds right after the kill: exactly one whole folder.
        seen = _snapshot(out)
        if not seen and no_exchange:
            # Killed between the two renames: the previous folder waits aside
            # and the next run puts it back before anything else.
            files.clean_leftovers(out)
            seen = _snapshot(out)
        assert seen in (previous, fresh), f"kill at step {kill_at}: a mix of two runs"
        assert read_complete(out) is not None
        if code == 0:
            assert seen == fresh
            assert not _leftovers(out)
            break
        assert code == -signal.SIGKILL, f"kill at step {kill_at}: exit {code}"
        kills += 1
        # The next run finishes the job and leaves no temporary behind.
        assert server.run(kind, new, out, no_exchange=no_exchange) == 0
        assert _snapshot(out) == fresh
        assert not _leftovers(out), f"kill at step {kill_at}: temporaries left"
    else:
        pytest.fail("the publishing never finished")
    # Every file's fsync is a step: the kills covered each of them, and the swap.
    assert kills >= len(fresh)
    print(f"{kind} ({'two renames' if no_exchange else 'exchange'}): {kills} kills, {kills} survived")


def test_a_published_folder_is_private_and_marked_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FolderPublisher(out, owned=["a.txt", "b.txt"]) as folder:
        folder.write("a.txt", "first")
        folder.write("b.txt", b"second")
        marker = folder.commit({"kind": "test"})
    assert sorted(p.name for p in out.iterdir()) == ["COMPLETE.json", "a.txt", "b.txt"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())
    assert read_complete(out) == marker
    assert marker["files"]["a.txt"]["bytes"] == 5
    # A changed file, or a missing one, is no longer a complete folder.
    (out / "a.txt").write_text("changed")
    assert read_complete(out) is None
    (out / "a.txt").unlink()
    assert read_complete(out) is None


def test_an_error_before_commit_leaves_the_previous_folder_and_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FolderPublisher(out, owned=["a.txt"]) as folder:
        folder.write("a.txt", "old")
        folder.commit()
    with pytest.raises(RuntimeError), FolderPublisher(out, owned=["a.txt"]) as folder:
        folder.write("a.txt", "new, half")
        raise RuntimeError("cancelled")
    assert (out / "a.txt").read_text() == "old"
    assert read_complete(out) is not None
    assert _leftovers(out) == []


def test_a_folder_holding_other_files_is_refused_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "Documents"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="notes.txt"):
        FolderPublisher(out, owned=["a.txt"])
    assert _snapshot(out) == {"notes.txt": b"mine"}
    assert _leftovers(out) == []


def test_leftovers_of_dead_runs_are_removed_but_a_live_runs_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".out.attune-new-{dead_pid}-0000abcd"
    stale.mkdir()
    (stale / "hf_train.jsonl").write_text("partial clinical text")
    stale_file = tmp_path / f".out.attune-tmp-{dead_pid}-0000abcd"
    stale_file.write_text("partial")
    live = tmp_path / f".out.attune-new-{os.getppid()}-0000abcd"
    live.mkdir()
    with FolderPublisher(out, owned=["a.txt"]) as folder:
        folder.write("a.txt", "x")
        folder.commit()
    assert not stale.exists() and not stale_file.exists()
    assert live.exists()


def test_single_files_are_written_whole_and_private(tmp_path: Path) -> None:
    target = tmp_path / "evaluation.json"
    files.write_file_atomic(target, "{}\n")
    files.write_file_atomic(target, "{\"a\": 1}\n")
    assert target.read_text() == "{\"a\": 1}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation.json"]


def test_the_export_marker_holds_the_manifest_hash(prepared, tmp_path: Path) -> None:
    ws, refs = prepared
    import hashlib
    import json

    marker = json.loads(refs[("export", "a")][MARKER])
    manifest = refs[("export", "a")]["manifest.jsonl"]
    assert marker["manifest_jsonl_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert marker["kind"] == "dataset-export"
    assert set(marker["files"]) == set(refs[("export", "a")]) - {MARKER}
