"""Hugging Face hub models, downloaded once into the workspace's model cache.

``attune models --download ORG/NAME[@REVISION]`` is the only place Attune
reaches the hub: it sends the model id (and the user's own hub token, when
one is set up, for gated models), never anything from the workspace. Tuning
and generation then find the copy in ``WORKSPACE/models/ORG--NAME[@REV]/``
with no network, and never download on their own.

Only what a transformers model needs is fetched: the top-level JSON files
(config, tokenizer, generation config, weight index), ``*.safetensors``
(PyTorch ``*.bin`` only where a repo has no safetensors), ``*.model`` and
``*.txt`` tokenizer files, ``*.jinja`` chat templates, the licence and the
card; no other weight formats, no code, no subfolders. Files go into a hidden
sibling folder named like ``core.files``' temporaries (so the next run
removes a killed run's leftovers with ``files.clean_leftovers``); the marker
``ATTUNE-DOWNLOAD.json`` (id, commit, licence, every file's size) is written
last and the folder is renamed into place in one step, so a half download
never looks complete.

huggingface_hub (part of the local-tuning extra) is imported only inside
``download``: listing the cache is cheap and needs no extra.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import clock
from core.errors import AttuneError, NotFoundError, OperationCancelled, UsageError
from core.files import clean_leftovers, fsync_dir
from core.progress import TaskState

MODELS_DIRNAME = "models"
MARKER = "ATTUNE-DOWNLOAD.json"
MARKER_FORMAT = 1
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
_HUB_ID = re.compile(rf"^(?P<org>{_NAME})/(?P<name>{_NAME})(?:@(?P<rev>[A-Za-z0-9][A-Za-z0-9._/-]{{0,99}}))?$")
_LICENCE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "README.md")
_TOKENIZER_SUFFIXES = (".json", ".model", ".txt", ".jinja")  # .jinja: chat templates (transformers 5 saves them apart)
_CHAT_TEMPLATES = "additional_chat_templates/"
_TRUE = {"1", "on", "yes", "true"}


class DownloadFailed(AttuneError):
    """The hub could not be reached or refused the download; nothing was left in the cache."""


@dataclass(frozen=True, slots=True)
class HubId:
    repo_id: str  # "org/name"
    revision: str | None  # None: the repo's default branch

    @property
    def spec(self) -> str:
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id

    @property
    def folder_name(self) -> str:
        name = self.repo_id.replace("/", "--")
        # A branch such as "refs/pr/3" must stay one folder name.
        return f"{name}@{self.revision.replace('/', '%2F')}" if self.revision else name


def parse_id(spec: str | None) -> HubId | None:
    """``ORG/NAME`` or ``ORG/NAME@REVISION`` → a ``HubId``; None for anything else (a path, "default")."""
    match = _HUB_ID.match(spec or "")
    if match is None or ".." in spec:
        return None
    return HubId(f"{match['org']}/{match['name']}", match["rev"])


def cache_dir(workspace: str | os.PathLike[str]) -> Path:
    return Path(workspace) / MODELS_DIRNAME


def folder_for(workspace: str | os.PathLike[str], hub: HubId) -> Path:
    return cache_dir(workspace) / hub.folder_name


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The download's marker when every file it lists is there at its size; else None (never complete)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if marker.get("attune_download") != MARKER_FORMAT:
            return None
        for name, size in marker["files"].items():
            if (folder / name).stat().st_size != size:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return marker


def cached(workspace: str | os.PathLike[str] | None, spec: str) -> Path | None:
    """The complete cached copy of hub id ``spec`` in ``workspace``, or None."""
    hub = parse_id(spec)
    if hub is None or workspace is None:
        return None
    folder = folder_for(workspace, hub)
    return folder if read_marker(folder) is not None else None


def list_cached(workspace: str | os.PathLike[str] | None) -> list[tuple[Path, dict[str, Any]]]:
    """Every complete download in the workspace's cache, by folder name; temporaries are skipped."""
    if workspace is None:
        return []
    root = cache_dir(workspace)
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        marker = read_marker(folder)
        if marker is not None:
            out.append((folder, marker))
    return out


def not_cached_message(spec: str) -> str:
    return (f"--base {spec}: this Hugging Face model is not downloaded into the workspace; "
            f"download it first with `attune models --download {spec}` (tuning never downloads on its own)")


def choose_files(files: Iterable[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    """The files a transformers model needs, from a repo listing of (path, size)."""
    files = list(files)
    top = [(name, size) for name, size in files if "/" not in name]
    safetensors = any(name.endswith(".safetensors") for name, _ in top)
    chosen = []
    for name, size in top:
        if name.endswith(".safetensors"):
            keep = True
        elif name.endswith(".bin"):
            # PyTorch pickles only where there is nothing safer; never optimizer or training state.
            keep = not safetensors and name.startswith("pytorch_model")
        elif name.endswith(".bin.index.json"):
            keep = not safetensors
        else:
            keep = name.endswith(_TOKENIZER_SUFFIXES) or name in _LICENCE_FILES
        if keep:
            chosen.append((name, size))
    chosen += [(name, size) for name, size in files
               if name.startswith(_CHAT_TEMPLATES) and name.endswith(".jinja") and name.count("/") == 1]
    return chosen


def offline_refusal(spec: str) -> str | None:
    """Why a download must not run now (HF_HUB_OFFLINE set), else None."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var}=1 is set, so nothing is downloaded: unset it to download {spec}"
    return None


def licence_from_card(card: Any) -> str | None:
    """``license:`` from a model card's metadata; "other" is shown with its name or link."""
    if card is None:
        return None
    licence = getattr(card, "license", None) or (card.get("license") if isinstance(card, dict) else None)
    if isinstance(licence, list):
        licence = ", ".join(str(x) for x in licence)
    if licence == "other":
        name = getattr(card, "license_name", None) or getattr(card, "license_link", None)
        return f"other ({name})" if name else "other (see the model's card)"
    return str(licence) if licence else None


class _Tally:
    """Bytes received across files, fed to the task's progress; Cancel stops at the next chunk."""

    def __init__(self, state: TaskState, total: int) -> None:
        self.state = state
        self.total = total
        self.done = 0
        self.label = ""

    def add(self, n: int) -> None:
        self.done += n
        self.state.update(self.done, self.total, self.label)
        self.state.check_cancelled()  # raised inside huggingface_hub's read loop: the transfer stops


def _bar_class(tally: _Tally) -> type:
    """A stand-in for the tqdm class huggingface_hub reports bytes to (its ``tqdm_class`` argument).

    Not a tqdm subclass on purpose: huggingface_hub then passes it only the
    bar's settings and draws nothing itself; the command line and the GUI
    show the task's progress their own way.
    """

    class _Bar:
        def __init__(self, *args: Any, total: int | None = None, initial: int = 0, **kwargs: Any) -> None:
            self.total = total
            self.n = initial

        def update(self, n: int = 1) -> None:
            self.n += n
            tally.add(n)

        def update_transfer(self, n: int = 1) -> None:  # xet transfers: counted once, through update
            pass

        def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
            pass

        set_transfer_postfix_str = set_postfix_str
        set_description = set_postfix_str
        refresh = set_postfix_str

        def close(self) -> None:
            pass

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    return _Bar


def _explain(exc: BaseException, hub: HubId, endpoint: str) -> AttuneError:
    """One line naming the id for whatever huggingface_hub raised."""
    from huggingface_hub import errors as hf_errors

    spec = hub.spec
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return UsageError(f"HF_HUB_OFFLINE=1 is set, so nothing is downloaded: unset it to download {spec}")
    if isinstance(exc, hf_errors.GatedRepoError):
        return UsageError(f"{spec} is gated: accept its conditions on {endpoint}/{hub.repo_id}, log in "
                          "(`hf auth login` or HF_TOKEN), then download again")
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return NotFoundError(f"{spec}: the Hugging Face model has no revision {hub.revision!r}")
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return NotFoundError(f"{spec}: no such model on the Hugging Face hub ({endpoint}), or it is private")
    if isinstance(exc, hf_errors.DisabledRepoError):
        return NotFoundError(f"{spec}: this model was disabled on the Hugging Face hub")
    if isinstance(exc, hf_errors.HfHubHTTPError):
        status = exc.response.status_code if getattr(exc, "response", None) is not None else "?"
        return DownloadFailed(f"{spec}: the Hugging Face hub answered HTTP {status}; nothing was kept, try again later")
    detail = " ".join(str(exc).split())[:160] or type(exc).__name__
    return DownloadFailed(f"{spec}: cannot reach the Hugging Face hub ({endpoint}): offline? ({detail}); "
                          "nothing was kept")


def _network_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub import errors as hf_errors

    errors: list[type[BaseException]] = [hf_errors.HfHubHTTPError, hf_errors.OfflineModeIsEnabled,
                                         ConnectionError, TimeoutError]
    with contextlib.suppress(ImportError):  # huggingface_hub's HTTP client (httpx2 in 2.x, httpx before)
        import httpx2

        errors.append(httpx2.HTTPError)
    with contextlib.suppress(ImportError):
        import httpx

        errors.append(httpx.HTTPError)
    return tuple(errors)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def download(workspace: str | os.PathLike[str], spec: str, state: TaskState | None = None) -> Path:
    """Download hub model ``spec`` into the workspace's cache once; returns its folder.

    Progress is bytes over the listed total, labelled with the file being
    fetched; Cancel (``state.cancel()``) stops within a chunk and leaves
    nothing behind. An existing complete copy is returned without network.
    """
    hub = parse_id(spec)
    if hub is None:
        raise UsageError(f"{spec}: not a Hugging Face model id (ORG/NAME or ORG/NAME@REVISION)")
    state = state or TaskState()
    target = folder_for(workspace, hub)
    if read_marker(target) is not None:
        return target
    if target.exists():
        raise UsageError(f"{target}: exists but is not a complete download of {spec}; delete it, then download again")
    refusal = offline_refusal(spec)
    if refusal:
        raise UsageError(refusal)
    try:
        from huggingface_hub import HfApi, constants, hf_hub_download
    except ImportError as exc:
        raise UsageError(f"downloading {spec} needs huggingface_hub, part of the local-tuning extra "
                         "(`make run` installs it)") from exc
    if constants.is_offline_mode():  # the variable was set when huggingface_hub was first imported
        raise UsageError(f"HF_HUB_OFFLINE=1 is set, so nothing is downloaded: unset it to download {spec}")
    endpoint = constants.ENDPOINT
    network_errors = _network_errors()

    root = cache_dir(workspace)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    clean_leftovers(target)  # a killed run's hidden folder (its pid is gone)
    state.update(0, 0, f"asking the hub about {spec}")
    try:
        info = HfApi().model_info(hub.repo_id, revision=hub.revision, files_metadata=True)
    except network_errors as exc:
        raise _explain(exc, hub, endpoint) from exc
    except ValueError as exc:  # huggingface_hub's own id check (HFValidationError)
        raise UsageError(f"{spec}: not a valid Hugging Face model id ({' '.join(str(exc).split())[:120]})") from exc
    listing = [(s.rfilename, s.size) for s in (info.siblings or [])]
    files = choose_files(listing)
    names = {name for name, _ in files}
    if "config.json" not in names:
        raise UsageError(f"{spec}: not a transformers model (no config.json in the repo); for a GGUF model, "
                         "download the .gguf file and give its path")
    if not any(n.endswith((".safetensors", ".bin")) for n in names):
        raise UsageError(f"{spec}: no safetensors or PyTorch weights in the repo (other formats are not used)")
    total = sum(size or 0 for _, size in files)
    free = shutil.disk_usage(root).free
    if total and total * 1.05 > free:
        raise UsageError(f"{spec}: needs {total / 1e9:.2f} GB, {root} has {free / 1e9:.2f} GB free")

    staging = root / f".{target.name}.attune-download-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    tally = _Tally(state, total)
    bar = _bar_class(tally)
    try:
        sizes: dict[str, int] = {}
        finished = 0
        for name, size in files:
            state.check_cancelled()
            tally.label = name
            tally.done = finished
            state.update(finished, total, name)
            try:
                path = Path(hf_hub_download(hub.repo_id, name, revision=info.sha, local_dir=staging,
                                            tqdm_class=bar))
            except OperationCancelled:
                raise
            except network_errors as exc:
                raise _explain(exc, hub, endpoint) from exc
            actual = path.stat().st_size
            if size is not None and actual != size:
                raise DownloadFailed(f"{spec}: {name} arrived with {actual} bytes, the hub listed {size}; "
                                     "nothing was kept, try again")
            _fsync_file(path)
            sizes[name] = actual
            finished += actual
        state.update(finished, max(total, finished), "finishing")
        shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's own bookkeeping
        marker = {
            "attune_download": MARKER_FORMAT,
            "id": hub.spec,
            "repo_id": hub.repo_id,
            "revision": hub.revision,
            "commit": info.sha,
            "licence": licence_from_card(info.card_data),
            "gated": bool(info.gated),
            "files": sizes,
            "downloaded_at": clock.now_iso(),
        }
        (staging / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        _fsync_file(staging / MARKER)
        fsync_dir(staging)
        try:
            os.rename(staging, target)  # the one step that makes it complete
        except OSError:
            if read_marker(target) is not None:  # another download of the same id finished first
                return target
            raise
        fsync_dir(root)
        return target
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
