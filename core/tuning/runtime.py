"""The torch side shared by the training process and local generation (imported only there).

One place loads a base model (Hugging Face folder or GGUF file, never the
hub), picks the device, and turns a prompt–completion example into token ids
with the loss on the completion alone: the chat template applied to the
``prompt`` messages with a generation prompt is exactly what generation sends,
and the training sequence is that prefix followed by the completion's tokens.
"""

from __future__ import annotations

import os
import random
from typing import Any

# Loading passes local_files_only, so nothing here reaches the hub; the training
# process also runs with HF_HUB_OFFLINE=1. The app's own environment is left alone:
# setting the variable here would refuse a later explicit model download in the GUI.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import warnings  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
# PEFT calls a transformers API that v5 deprecated; nothing for a user to act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

IGNORE = -100  # the label value cross-entropy skips (context tokens)


def pick_device(requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _from(base: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kwargs: dict[str, Any] = {"local_files_only": True}
    if base.get("gguf_file"):
        kwargs["gguf_file"] = base["gguf_file"]
    return base["path"], kwargs


def load_tokenizer(base: dict[str, Any]) -> Any:
    path, kwargs = _from(base)
    tok = transformers.AutoTokenizer.from_pretrained(path, **kwargs)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not tok.chat_template:
        raise ValueError(f"{path}: the tokenizer has no chat template; pick an instruction-tuned model")
    return tok


def load_model(base: dict[str, Any], device: str) -> Any:
    path, kwargs = _from(base)
    # fp32 on the CPU (bf16 matmuls are slow there); bf16 where the device does it well.
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    return model.to(device)


def prompt_ids(tok: Any, messages: list[dict[str, str]]) -> list[int]:
    """The chat template of the prompt messages with the assistant's turn opened."""
    out = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
    return list(out)


def encode_example(tok: Any, prompt: list[dict[str, str]], completion: list[dict[str, str]],
                   max_len: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) with every prompt token labelled ``IGNORE``.

    When the sequence is too long the oldest context goes first (the target is
    what is learned); a target longer than ``max_len`` alone is cut at its end.
    """
    head = prompt_ids(tok, prompt)
    full = list(tok.apply_chat_template(prompt + completion, tokenize=True, return_dict=False))
    if full[: len(head)] == head:
        tail = full[len(head):]
    else:  # a template that renders the prefix differently: the reply text and end-of-turn
        tail = tok(completion[-1]["content"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    if len(tail) >= max_len:
        tail = tail[: max_len - 1]
    room = max_len - len(tail)
    if len(head) > room:
        head = head[len(head) - room:]
    return head + tail, [IGNORE] * len(head) + tail


def pad_batch(rows: list[tuple[list[int], list[int]]], pad_id: int, device: str) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask and labels (padding is never learned)."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}
