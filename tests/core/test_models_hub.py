"""Hub models downloaded into the workspace's cache: the real huggingface_hub client against a fake hub.

The fake hub is an HTTP server on 127.0.0.1 that answers the REST shapes
huggingface_hub 2.x asks for (read from its source): ``GET
/api/models/{repo}/revision/{rev}?blobs=True`` (``HfApi.model_info`` with
``files_metadata``) and ``HEAD``/``GET /{repo}/resolve/{commit}/{file}``
(``hf_hub_download``: ``X-Repo-Commit``, ``ETag``, ``Content-Length``), with
the hub's ``X-Error-Code`` headers for missing and gated repos. huggingface_hub
reads ``HF_ENDPOINT`` when it is first imported, so every download runs in a
child process (``attune models --download``) pointed at the server by that
variable; the product has no switch of its own for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from core import models_hub, models_local
from core.errors import NotFoundError

ATTUNE = Path(sys.executable).with_name("attune")
ROOT = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"

pytestmark = pytest.mark.skipif(
    __import__("importlib").util.find_spec("huggingface_hub") is None,
    reason="huggingface_hub (local-tuning extra) not installed")


def _card(licence: str) -> bytes:
    return f"---\nlicense: {licence}\nlibrary_name: transformers\n---\n# Tiny\nA test model.\n".encode()


def fake_repo(weights: int = 12 * 1024 * 1024) -> dict[str, bytes]:
    """Files of a plausible model repo, including the ones a download must leave out."""
    return {
        "config.json": json.dumps({"model_type": "llama", "hidden_size": 32}).encode(),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE"}}).encode(),
        "tokenizer_config.json": b"{}",
        "chat_template.jinja": b"{% for m in messages %}{{ m['content'] }}{% endfor %}",
        "additional_chat_templates/tool_use.jinja": b"{{ messages }}",
        "modeling_custom.py": b"code that must not be fetched",
        "merges.txt": b"#version: 0.2\n",
        # Larger than huggingface_hub's 10 MB read chunk, so Cancel can land mid-file.
        "model.safetensors": os.urandom(weights),
        "pytorch_model.bin": b"a pickle that must not be fetched when safetensors exist",
        "onnx/model.onnx": b"another format",
        "flax_model.msgpack": b"another format",
        ".gitattributes": b"*.safetensors filter=lfs\n",
        "README.md": _card("apache-2.0"),
    }


class FakeHub:
    """Repos by id; ``fail`` / ``stall`` name a file whose GET fails (HTTP 500) or stops half way."""

    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str, int]] = []  # method, path, request body length
        self.fail: str | None = None
        self.stall: str | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                hub.answer(self, body=True)

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo_id: str, files: dict[str, bytes], *, licence: str = "apache-2.0", gated: bool = False) -> None:
        self.repos[repo_id] = {"files": files, "licence": licence, "gated": gated}

    def answer(self, h: BaseHTTPRequestHandler, *, body: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append((h.command, path, int(h.headers.get("Content-Length") or 0)))
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            repo_id = "/".join(parts[2:4])
            revision = parts[5] if len(parts) > 5 and parts[4] == "revision" else "main"
            return self._info(h, repo_id, revision)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._file(h, "/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
        self._error(h, 404, "EntryNotFound")

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str) -> None:
        h.send_response(status)
        h.send_header("X-Error-Code", code)
        h.send_header("X-Error-Message", code)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _info(self, h: BaseHTTPRequestHandler, repo_id: str, revision: str) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 401, "RepoNotFound")  # the hub's answer for a missing or private repo
        if revision not in ("main", COMMIT):
            return self._error(h, 404, "RevisionNotFound")
        data = json.dumps({
            "id": repo_id, "modelId": repo_id, "sha": COMMIT, "private": False,
            "gated": "manual" if repo["gated"] else False, "disabled": False, "tags": [],
            "cardData": {"license": repo["licence"]},
            "siblings": [{"rfilename": n, "size": len(b), "blobId": hashlib.sha1(b).hexdigest()}
                         for n, b in repo["files"].items()],
        }).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _file(self, h: BaseHTTPRequestHandler, repo_id: str, revision: str, name: str, body: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 401, "RepoNotFound")
        if repo["gated"]:
            return self._error(h, 403, "GatedRepo")
        data = repo["files"].get(name)
        if data is None or revision != COMMIT:
            return self._error(h, 404, "EntryNotFound")
        if body and name == self.fail:
            return self._error(h, 500, "InternalError")
        h.send_response(200)
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if not body:
            return
        with contextlib.suppress(OSError):
            if name == self.stall:
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                self.stalled.set()
                self.release.wait(60)
                return
            h.wfile.write(data)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as h:
        h.add("org/tiny", fake_repo())
        yield h


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    from core.store import open_store

    folder = tmp_path / "ws"
    open_store(folder, create=True).close()
    return folder


def _env(hub: FakeHub, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                        "ATTUNE_HOME")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1",
               NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", **extra)
    return env


def _attune(ws: Path, env: dict[str, str], *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ATTUNE), "--home", str(ws), *argv], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _hidden(ws: Path) -> list[str]:
    root = ws / "models"
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) if root.is_dir() else []


def test_parse_id_and_folder_names() -> None:
    assert models_hub.parse_id("HuggingFaceTB/SmolLM2-360M-Instruct") == models_hub.HubId(
        "HuggingFaceTB/SmolLM2-360M-Instruct", None)
    assert models_hub.parse_id("org/name@v1.0").folder_name == "org--name@v1.0"
    assert models_hub.parse_id("org/name@refs/pr/3").folder_name == "org--name@refs%2Fpr%2F3"
    for not_an_id in ("default", "model.gguf", "/abs/org/name", "./org/name", "org/../name", "a/b/c", "org/", ""):
        assert models_hub.parse_id(not_an_id) is None, not_an_id


def test_choose_files_takes_what_a_model_needs() -> None:
    listing = [(n, len(b)) for n, b in fake_repo(weights=8).items()]
    assert sorted(n for n, _ in models_hub.choose_files(listing)) == [
        "README.md", "additional_chat_templates/tool_use.jinja", "chat_template.jinja", "config.json",
        "merges.txt", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    pickles_only = [("config.json", 2), ("pytorch_model.bin", 9), ("pytorch_model.bin.index.json", 3),
                    ("training_args.bin", 5), ("tokenizer.model", 4)]
    assert sorted(n for n, _ in models_hub.choose_files(pickles_only)) == [
        "config.json", "pytorch_model.bin", "pytorch_model.bin.index.json", "tokenizer.model"]


def test_download_then_resolve_offline(hub: FakeHub, ws: Path, tmp_path: Path) -> None:
    result = _attune(ws, _env(hub, tmp_path), "models", "--download", "org/tiny")
    assert result.returncode == 0, result.stderr
    folder = ws / "models" / "org--tiny"
    files = hub.repos["org/tiny"]["files"]
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "merges.txt", "model.safetensors",
                 "README.md", "chat_template.jinja", "additional_chat_templates/tool_use.jinja"):
        assert (folder / name).read_bytes() == files[name], name
    for left_out in ("pytorch_model.bin", "onnx", "flax_model.msgpack", ".gitattributes", ".cache",
                     "modeling_custom.py"):
        assert not (folder / left_out).exists(), left_out
    assert _hidden(ws) == []
    # Progress went through the task state: one line per file on a non-terminal stderr.
    assert "org/tiny: model.safetensors (" in result.stderr
    assert "licence apache-2.0" in result.stdout
    # Only the model id (and file names of its repo) went out, with no request body.
    assert hub.requests and all(body == 0 for _, _, body in hub.requests)
    assert {path.split("/resolve/")[0] for _, path, _ in hub.requests if "/resolve/" in path} == {"/org/tiny"}
    assert all(path.startswith(("/api/models/org/tiny", "/org/tiny/resolve/")) for _, path, _ in hub.requests)

    # From now on no network: the server is gone and the hub is switched off.
    hub.server.shutdown()
    model = models_local.resolve("org/tiny", ws)
    assert Path(model.path) == folder.resolve() and model.hub_id == "org/tiny"
    assert model.licence == "apache-2.0" and "org/tiny" in model.label
    assert model.size_bytes >= len(files["model.safetensors"])
    assert models_local.local_spec("org/tiny", ws) == str(folder.resolve())
    again = models_local.resolve(models_local.local_spec("org/tiny", ws))  # a job's record, no workspace needed
    assert again.path == model.path and again.hub_id == "org/tiny"
    # The download's date is not part of the model: the hash is that of the files alone.
    marker = json.loads((folder / models_hub.MARKER).read_text())
    assert marker["commit"] == COMMIT and marker["files"]["model.safetensors"] == len(files["model.safetensors"])
    before = models_local.model_hash(model)
    (folder / models_hub.MARKER).write_text(json.dumps({**marker, "downloaded_at": "1999-01-01T00:00:00+00:00"}))
    assert models_local.model_hash(model) == before

    offline = _env(hub, tmp_path, HF_HUB_OFFLINE="1")
    listed = _attune(ws, offline, "models")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("org/tiny "))
    assert "apache-2.0" in row and " MB" in row and row.rstrip().endswith(("yes", "no", "unknown"))
    # Downloading again is a no-op that needs no network.
    second = _attune(ws, offline, "models", "--download", "org/tiny")
    assert second.returncode == 0 and "already downloaded" in second.stdout, second.stderr


def test_a_failure_mid_download_leaves_nothing(hub: FakeHub, ws: Path, tmp_path: Path) -> None:
    hub.fail = "model.safetensors"
    result = _attune(ws, _env(hub, tmp_path), "models", "--download", "org/tiny")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("attune: org/tiny: ") and "500" in lines[-1], result.stderr
    assert not (ws / "models" / "org--tiny").exists() and _hidden(ws) == []
    assert models_hub.list_cached(ws) == []
    with pytest.raises(NotFoundError, match=r"attune models --download org/tiny"):
        models_local.resolve("org/tiny", ws)


def test_a_killed_download_never_looks_complete_and_the_next_one_cleans_up(
        hub: FakeHub, ws: Path, tmp_path: Path) -> None:
    hub.stall = "model.safetensors"
    proc = subprocess.Popen([str(ATTUNE), "--home", str(ws), "models", "--download", "org/tiny"],
                            env=_env(hub, tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert hub.stalled.wait(60), "the download never reached the weights"
        staged = _hidden(ws)
        assert len(staged) == 1 and staged[0].startswith(".org--tiny.attune-download-")
        assert (ws / "models" / staged[0] / "config.json").is_file()  # files already fetched sit in the temporary
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (ws / "models" / "org--tiny").exists()
    assert models_hub.list_cached(ws) == [] and models_hub.cached(ws, "org/tiny") is None
    with pytest.raises(NotFoundError):
        models_local.resolve("org/tiny", ws)
    assert models_local.available_models(workspace=ws) == models_local.available_models()

    hub.stall = None
    hub.release.set()
    result = _attune(ws, _env(hub, tmp_path), "models", "--download", "org/tiny")
    assert result.returncode == 0, result.stderr
    assert _hidden(ws) == []  # the killed run's temporary is gone
    assert models_hub.cached(ws, "org/tiny") == ws / "models" / "org--tiny"


def test_cancel_stops_within_a_file_and_leaves_nothing(hub: FakeHub, ws: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from core import models_hub
        from core.errors import OperationCancelled
        from core.progress import TaskState
        seen = []
        def on_update(p):
            seen.append((p.done, p.label))
            if p.label == "model.safetensors" and p.done > 0:
                state.cancel()
        state = TaskState(on_update=on_update)
        try:
            models_hub.download({str(ws)!r}, "org/tiny", state)
        except OperationCancelled:
            print("cancelled", max(d for d, _ in seen))
            sys.exit(0)
        print("not cancelled")
        sys.exit(1)
    """)
    result = subprocess.run([sys.executable, "-c", script], env=_env(hub, tmp_path), cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    done = int(result.stdout.split()[1])
    assert 0 < done < sum(len(b) for b in hub.repos["org/tiny"]["files"].values())
    assert not (ws / "models" / "org--tiny").exists() and _hidden(ws) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ("nobody/nothing", "nobody/nothing: no such model on the Hugging Face hub"),
    ("org/tiny@v9", "org/tiny@v9: the Hugging Face model has no revision 'v9'"),
    ("org/gated", "org/gated is gated"),
])
def test_missing_or_gated_ids_give_one_line_naming_them(hub: FakeHub, ws: Path, tmp_path: Path,
                                                        spec: str, expected: str) -> None:
    hub.add("org/gated", fake_repo(weights=16), gated=True)
    result = _attune(ws, _env(hub, tmp_path), "models", "--download", spec)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("attune: ")]
    assert errors == [result.stderr.strip().splitlines()[-1]], result.stderr  # one line, the last
    assert expected in errors[0], result.stderr
    assert not (ws / "models").exists() or list((ws / "models").iterdir()) == []


def test_hf_hub_offline_is_refused_without_a_request(hub: FakeHub, ws: Path, tmp_path: Path) -> None:
    result = _attune(ws, _env(hub, tmp_path, HF_HUB_OFFLINE="1"), "models", "--download", "org/tiny")
    assert result.returncode == 2
    assert "HF_HUB_OFFLINE" in result.stderr and "org/tiny" in result.stderr and hub.requests == []


def test_an_unreachable_hub_says_offline(ws: Path, tmp_path: Path) -> None:
    with FakeHub() as closed:
        pass  # started and stopped: nothing listens on its port any more
    result = _attune(ws, _env(closed, tmp_path), "models", "--download", "org/tiny")
    assert result.returncode == 1
    assert "org/tiny: cannot reach the Hugging Face hub" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_hub_id_not_downloaded_is_refused_with_the_command_to_download_it(ws: Path) -> None:
    for call in (lambda: models_local.resolve("org/absent", ws), lambda: models_local.resolve("org/absent"),
                 lambda: models_local.local_spec("org/absent", ws)):
        with pytest.raises(NotFoundError, match=r"download it first with `attune models --download org/absent`"):
            call()
    # A folder that happens to look like an id is still a folder.
    local = ws / "org" / "name"
    local.mkdir(parents=True)
    (local / "config.json").write_text("{}")
    assert models_local.local_spec(str(local), ws) == str(local)


needs_extra = pytest.mark.skipif(models_local.missing_extra() is not None,
                                 reason=f"local tuning extra absent: {models_local.missing_extra()}")


@needs_extra
@pytest.mark.parametrize("argv", [
    ["generate", "d", "--system", "base:local", "--base", "org/absent", "--limit", "1"],
    ["tune", "start", "d", "--backend", "local", "--base", "org/absent", "--detach"],
])
def test_tune_and_generate_never_download(ws: Path, tmp_path: Path, argv: list[str]) -> None:
    with FakeHub() as hub:
        hub.add("org/absent", fake_repo(weights=16))
        result = _attune(ws, _env(hub, tmp_path), *argv)
    assert result.returncode != 0 and hub.requests == []
    assert "attune models --download org/absent" in result.stderr, result.stderr


@needs_extra
@pytest.mark.slow  # a training process: 45-65 s measured on a loaded 2-core machine
def test_tune_and_generate_from_a_downloaded_tiny_model(tmp_path: Path, monkeypatch, capsys) -> None:
    """A real (tiny, random) model served by the fake hub, downloaded, then tuned and generating offline."""
    import socket

    from cli import main
    from core.datasets.builder import build_dataset
    from core.datasets.rules import DatasetRules
    from tests.core.datasets_fixtures import open_populated
    from tests.core.local_model_fixtures import make_tiny_model

    tiny = make_tiny_model(tmp_path / "tiny")
    ws = tmp_path / "ws"
    with open_populated(ws, n_sessions=12) as store:
        build_dataset(store, "d", DatasetRules(split=(60, 20, 20)))
    with FakeHub() as hub:
        hub.add("lab/tiny-llama", {p.name: p.read_bytes() for p in tiny.iterdir() if p.is_file()}, licence="mit")
        result = _attune(ws, _env(hub, tmp_path), "models", "--download", "lab/tiny-llama")
        assert result.returncode == 0, result.stderr

    def refuse(*args, **kwargs):
        raise AssertionError(f"network use after the download: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    run = lambda *a: main(["--home", str(ws), *a])  # noqa: E731
    assert run("tune", "start", "d", "--base", "lab/tiny-llama", "--epochs", "1", "--name", "tuned") == 0
    assert run("generate", "d", "--system", "base:local", "--base", "lab/tiny-llama", "--name", "base",
               "--limit", "2", "--max-new-tokens", "4") == 0
    assert run("generate", "d", "--system", "local:tuned", "--limit", "2", "--max-new-tokens", "4") == 0
    capsys.readouterr()
    assert run("tune", "status") == 0
    out = capsys.readouterr().out
    assert "succeeded" in out and str((ws / "models" / "lab--tiny-llama").resolve()) in out
    assert run("models") == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("lab/tiny-llama "))
    assert " mit " in row
