"""A tiny causal LM made on the spot (random weights, a byte-level BPE tokenizer trained on a few
sentences, a ChatML chat template), so the real training, checkpoint/resume and generation code
runs in seconds with the real libraries and no hub access."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "You are a supportive therapist. How have things been since last week?",
    "Honestly pretty rough, I have not been sleeping much and work is piling up.",
    "It sounds like the pressure at work is following you home and into the night.",
    "sleep work worry family money tired anxious calm plan week talk morning evening partner",
    "school health rest change stress hopeful stuck lonely better harder today maybe really",
]


def make_tiny_model(folder: Path, *, hidden: int = 32, layers: int = 2, vocab: int = 400) -> Path:
    """Write a LlamaForCausalLM with random weights and its tokenizer into ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(_CORPUS * 3, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    tok.chat_template = CHATML
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


# Fixtures shared by test_local_tuning.py and test_local_generation.py (imported there).


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def dataset_store(tmp_path: Path):
    from core.datasets.builder import build_dataset
    from core.datasets.rules import DatasetRules
    from tests.core.datasets_fixtures import open_populated

    store = open_populated(tmp_path / "ws", n_sessions=12)
    build_dataset(store, "d", DatasetRules(split=(60, 20, 20)))
    yield store
    store.close()
