"""Replies from a local base model or a tuned LoRA adapter (``attune-studio[local]``).

The prompt is the chat template applied to the export's ``prompt`` messages
with the assistant turn opened (``runtime.prompt_ids``): exactly the prefix
the adapter was trained to continue. Prompts are left-padded and generated in
batches; each batch's sampling seed comes from the settings' seed and its
first item's id, so a rerun of the missing items draws what the first run
would have.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import warnings
from pathlib import Path
from typing import Any

from core import models_local
from core.generation.base import GenerationSettings, ReplyGenerator
from core.models import DatasetRecord
from core.store import Store

# Where a reply fitted to the dataset may end: the shortest and longest 5 % of
# the training targets' token lengths are outliers, not the reply length to aim at.
LENGTH_PERCENTILES = (5, 95)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


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
        self.length_source = "settings"

    def _load_tokenizer(self) -> Any:
        if self._tok is None:
            from core.tuning import runtime

            self._tok = runtime.load_tokenizer(self.base.to_json())
            self._tok.padding_side = "left"
        return self._tok

    def prepare(self, store: Store, record: DatasetRecord) -> None:
        """Unset lengths come from the dataset's training targets (see ``length_bounds``)."""
        s = self.settings
        if s.max_new_tokens is not None and s.min_new_tokens is not None:
            return
        from core.datasets import builder

        targets = [e.target for e in builder.stored_examples(store, record) if e.split == "train"]
        low, high = length_bounds(self._load_tokenizer(), targets)
        max_new = s.max_new_tokens if s.max_new_tokens is not None else high
        min_new = s.min_new_tokens if s.min_new_tokens is not None else min(low, max_new)
        self.settings = dataclasses.replace(s, max_new_tokens=max_new, min_new_tokens=min_new)
        self.length_source = (f"train targets of {record.name}: {LENGTH_PERCENTILES[0]}th–"
                              f"{LENGTH_PERCENTILES[1]}th percentile of {len(targets)} replies' tokens")

    def _load(self) -> None:
        if self._model is not None:
            return
        from core.tuning import runtime

        self.device = runtime.pick_device(self._device_wanted)
        self._load_tokenizer()
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
                "device": self.device or self._device_wanted,
                "reply_tokens": {"min": self.settings.min_new_tokens, "max": self.settings.max_new_tokens,
                                 "from": self.length_source}}

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
        stops = stop_ids(tok, self._model)
        kwargs: dict[str, Any] = {"do_sample": sample, "max_new_tokens": s.max_new_tokens or 200,
                                  "pad_token_id": tok.pad_token_id, "eos_token_id": sorted(stops)}
        if s.min_new_tokens:
            kwargs["min_new_tokens"] = s.min_new_tokens
        if sample:
            kwargs.update(temperature=s.temperature, top_p=s.top_p)
            if s.min_p:
                kwargs["min_p"] = s.min_p
        processors = []
        if s.repetition_penalty != 1.0:
            processors.append(reply_penalty(s.repetition_penalty, width, stops | set(tok.all_special_ids)))
        if s.dry_multiplier > 0:
            processors.append(dry_penalty(s.dry_multiplier, s.dry_base, s.dry_allowed_length, width,
                                          stops | set(tok.all_special_ids)))
        if processors:
            from transformers import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList(processors)
        with torch.no_grad():
            out = self._model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                       **kwargs)
        replies = []
        for row in out:
            reply = row[width:].tolist()
            text = tok.decode(reply, skip_special_tokens=True)
            if s.finish_sentences and not stops.intersection(reply):
                text = finish_sentence(text)  # cut by the token limit
            replies.append(text)
        return replies


def stop_ids(tok: Any, model: Any) -> set[int]:
    """Tokens that end the assistant's turn: the tokenizer's and the model's end tokens."""
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    return ids


def reply_penalty(penalty: float, prompt_width: int, exempt: set[int]) -> Any:
    """A repetition penalty over the reply's own tokens, sparing ``exempt``.

    Transformers' own penalty also weighs every prompt token, which for a chat
    prompt means the client's words and the end-of-turn marker that closes each
    message: replies then avoid reflecting the client and run to the token limit.
    (Sparing punctuation too was tried on AnnoMI: replies asked 49 questions
    against the therapist's 14, instead of 33.)
    """
    import torch
    from transformers import LogitsProcessor

    spared = torch.tensor(sorted(exempt), dtype=torch.long)

    class ReplyRepetitionPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            reply = input_ids[:, prompt_width:]
            if reply.shape[1] == 0:
                return scores
            keep = scores[:, spared.to(scores.device)]
            picked = scores.gather(1, reply)
            picked = torch.where(picked < 0, picked * penalty, picked / penalty)
            scores = scores.scatter(1, reply, picked)
            scores[:, spared.to(scores.device)] = keep
            return scores

    return ReplyRepetitionPenalty()


def dry_penalty(multiplier: float, base: float, allowed: int, prompt_width: int, exempt: set[int]) -> Any:
    """"Don't repeat yourself": penalise only the token that would extend a repeat.

    If the reply's last ``n`` tokens already occurred earlier in the reply,
    the token that followed them then is penalised by ``multiplier *
    base ** (n - allowed)`` (subtracted from its logit) once ``n >= allowed``.
    A loop is broken within a few tokens, while the words a reply naturally
    reuses (full stops, "you", "I") keep their weight. A per-token penalty
    pushes a reply away from every word it has used, towards the few it has
    not: on AnnoMI it turned statements into strings of questions. (The DRY
    sampler of text-generation-webui and llama.cpp, over the reply only: the
    client's words are what a reflection repeats.)
    """
    import torch
    from transformers import LogitsProcessor

    class DryPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            for row, ids in enumerate(input_ids[:, prompt_width:].tolist()):
                for token, length in repeat_lengths(ids, exempt).items():
                    if length >= allowed:
                        scores[row, token] -= multiplier * base ** (length - allowed)
            return scores

    return DryPenalty()


def repeat_lengths(ids: list[int], breakers: set[int]) -> dict[int, int]:
    """For each token that would repeat a run: the length of the run it would extend.

    ``ids[j + 1]`` follows an earlier occurrence of the reply's last ``n``
    tokens (a match not crossing a breaker); the longest ``n`` per token wins.
    """
    found: dict[int, int] = {}
    if not ids or ids[-1] in breakers:
        return found
    last = len(ids) - 1
    for j in range(last - 1, -1, -1):
        if ids[j] != ids[last]:
            continue
        n = 1
        while n <= j and ids[j - n] == ids[last - n] and ids[j - n] not in breakers:
            n += 1
        token = ids[j + 1]
        if token not in breakers and n > found.get(token, 0):
            found[token] = n
    return found


def finish_sentence(text: str) -> str:
    """``text`` up to its last sentence end; unchanged when it has none."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[: ends[-1].end()] if ends else text


def length_bounds(tok: Any, targets: list[str]) -> tuple[int, int]:
    """(min, max) new tokens: percentiles of the targets' token lengths, plus the end-of-turn token."""
    if not targets:
        return 0, 200
    lengths = sorted(len(tok(t, add_special_tokens=False)["input_ids"]) + 1 for t in targets)

    def pick(pct: int) -> int:
        return lengths[min(len(lengths) - 1, round(pct / 100 * (len(lengths) - 1)))]

    low, high = pick(LENGTH_PERCENTILES[0]), pick(LENGTH_PERCENTILES[1])
    return low, max(high, 1)


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
