"""Replies from a local base model or a tuned LoRA adapter (``attune-studio[local]``).

The prompt is the chat template applied to the export's ``prompt`` messages
with the assistant turn opened (``runtime.prompt_ids``): exactly the prefix
the adapter was trained to continue. Prompts are left-padded and generated in
batches; each batch's sampling seed comes from the settings' seed and its
first item's id, so a rerun of the missing items draws what the first run
would have.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

from core import models_local
from core.generation.base import GenerationSettings, ReplyGenerator


class LocalGenerator(ReplyGenerator):
    def __init__(self, base: models_local.BaseModel, settings: GenerationSettings, *,
                 adapter: str | Path | None = None, device: str = "auto", base_hash: str = "") -> None:
        models_local.require_extra()
        self.base, self.settings, self.adapter = base, settings.check(), adapter
        self.base_hash = base_hash
        self._device_wanted = device
        self._model: Any = None
        self._tok: Any = None
        self.device = ""

    def _load(self) -> None:
        if self._model is not None:
            return
        from core.tuning import runtime

        self.device = runtime.pick_device(self._device_wanted)
        self._tok = runtime.load_tokenizer(self.base.to_json())
        self._tok.padding_side = "left"
        model = runtime.load_model(self.base.to_json(), self.device)
        if self.adapter is not None:
            from peft import PeftModel

            with warnings.catch_warnings():  # PEFT calls an API transformers 5 deprecated
                warnings.simplefilter("ignore", FutureWarning)
                model = PeftModel.from_pretrained(model, str(self.adapter)).to(self.device)
        model.eval()
        self._model = model

    def describe(self) -> dict[str, Any]:
        return {"generator": "local", "base_model": self.base.name, "base": self.base.to_json(),
                "base_model_hash": self.base_hash, "adapter": str(self.adapter) if self.adapter else None,
                "device": self.device or self._device_wanted}

    def generate(self, prompts: list[list[dict[str, str]]], first_ids: list[str]) -> list[str]:
        self._load()
        import torch

        from core.tuning import runtime

        tok, s = self._tok, self.settings
        encoded = [runtime.prompt_ids(tok, p) for p in prompts]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, width - len(e):] = torch.tensor(e)
            mask[i, width - len(e):] = 1
        seed = int(hashlib.sha256(f"{s.seed}:{first_ids[0]}".encode()).hexdigest()[:8], 16)
        runtime.set_seed(seed)
        sample = s.temperature > 0
        kwargs: dict[str, Any] = {"do_sample": sample, "max_new_tokens": s.max_new_tokens,
                                  "pad_token_id": tok.pad_token_id}
        if sample:
            kwargs.update(temperature=s.temperature, top_p=s.top_p)
        if s.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = s.repetition_penalty
        with torch.no_grad():
            out = self._model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                       **kwargs)
        return [tok.decode(row[width:], skip_special_tokens=True) for row in out]


BASE_SYSTEM = "local-base"


def resolve_target(store, spec: str, *, base: str | None = None, name: str | None = None
                   ) -> tuple[str, str, models_local.BaseModel, str | None, str]:
    """``base:local`` or ``local:RUN`` (system name or job number) → (system, kind, base, adapter, base hash)."""
    from core.errors import UsageError
    from core.store import jobs as job_store

    kind, _, rest = spec.partition(":")
    if kind == "base":
        if rest not in ("local", ""):
            raise UsageError(f"--system {spec}: base:local (the base model is chosen with --base)")
        model = models_local.resolve(base)
        return name or BASE_SYSTEM, "base_model", model, None, models_local.model_hash(model)
    if kind != "local":
        raise UsageError(f"--system {spec}: base:local or local:RUN")
    job = None
    if rest.isdigit():
        job = job_store.find_job(store, int(rest))
    else:
        job = next((j for j in job_store.list_jobs(store, backend="local") if j.system_name == rest), None)
    if job is None or job.backend != "local":
        raise UsageError(f"--system {spec}: no local tuning run {rest!r} (see `attune tune status`)")
    if job.state != "succeeded" or not job.output:
        raise UsageError(f"--system {spec}: tuning job {job.id} is {job.state}, not finished")
    return name or job.system_name, "tuned_model", models_local.resolve(job.base_model), job.output, \
        job.base_model_hash
