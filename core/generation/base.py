"""Reply generators, and the loop that answers a dataset's test items with one.

A ``ReplyGenerator`` turns Hugging Face ``prompt`` messages (the export's
prompt–completion form minus the completion: ``items.item_prompt(record,
item, "hf")``) into reply texts, a batch at a time. ``generate_for_dataset``
asks it only for items the system has no reply to yet and stores each batch
as it arrives (``save_replies``), so a rerun after a crash or Cancel only does
what is missing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from core.datasets import items
from core.errors import UsageError
from core.evaluation.responses import NewReply, save_replies
from core.models import DatasetRecord
from core.progress import TaskState, null_state
from core.store import Store
from core.store import datasets as ds_store
from core.store import responses as response_store


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """What decides a reply besides the prompt; stored with every reply."""

    system_instruction: str | None = None  # None: the dataset's own (what the model was tuned with)
    # Local models draw from the model's own distribution (temperature 1) minus its unreliable
    # tail (min-p): a tuned model then asks questions about as often as the replies it was
    # tuned on. Its single most likely reply (temperature 0) ends nearly every 50+-word reply
    # with a question; on AnnoMI, 33 questions in 26 replies against the therapist's 14
    # (docs/local-tuning.md has every variant measured).
    temperature: float = 1.0
    top_p: float = 1.0
    # Sampling keeps only tokens at least min_p times as likely as the likeliest (0: off).
    min_p: float = 0.1
    seed: int = 0
    # None: fitted to the dataset by the generator (local: the train targets' token lengths),
    # so replies are as long as the replies the clinician chose to train on.
    max_new_tokens: int | None = None
    min_new_tokens: int | None = None
    batch_size: int = 4
    # Penalising every token a reply has used (transformers' repetition penalty; 1.0: off) pushes
    # it away from full stops and common words towards ones it has not used, and on AnnoMI turned
    # statements into strings of questions. Small models still loop on one sentence without a
    # guard, so the default guard is "don't repeat yourself" instead: a token that would extend a
    # run the reply already said loses dry_multiplier * dry_base ** (run - dry_allowed_length)
    # (0 turns it off). Both weigh the reply's own tokens only: the prompt's words are the
    # client's, which a reflection repeats, and end-of-turn is never penalised.
    repetition_penalty: float = 1.0
    dry_multiplier: float = 0.8
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    # A reply cut by the token limit ends at its last full sentence, not mid-word.
    finish_sentences: bool = True

    def check(self) -> GenerationSettings:
        if self.temperature < 0:
            raise UsageError(f"--temperature: at least 0 (got {self.temperature})")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"--top-p: in (0, 1] (got {self.top_p})")
        if not 0 <= self.min_p < 1:
            raise UsageError(f"--min-p: in [0, 1) (got {self.min_p})")
        if self.repetition_penalty <= 0:
            raise UsageError(f"--repetition-penalty: above 0 (got {self.repetition_penalty})")
        if self.dry_multiplier < 0 or self.dry_base < 1 or self.dry_allowed_length < 1:
            raise UsageError("--dry: at least 0, with --dry-base at least 1 and --dry-allowed-length at least 1 "
                             f"(got {self.dry_multiplier}, {self.dry_base}, {self.dry_allowed_length})")
        if (self.max_new_tokens is not None and self.max_new_tokens < 1) or self.batch_size < 1:
            raise UsageError("--max-new-tokens and --batch-size: at least 1")
        if self.min_new_tokens is not None and (
                self.min_new_tokens < 0
                or (self.max_new_tokens is not None and self.min_new_tokens > self.max_new_tokens)):
            raise UsageError(f"--min-new-tokens: between 0 and --max-new-tokens (got {self.min_new_tokens})")
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ReplyGenerator(ABC):
    """Replies to prompts; ``describe`` is recorded as the system's provenance."""

    @abstractmethod
    def generate(self, prompts: list[list[dict[str, str]]], first_ids: list[str]) -> list[str]:
        """One reply per prompt (``first_ids``: the items' example ids, for per-item seeds)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]: ...

    def prepare(self, store: Store, record: DatasetRecord) -> None:
        """Fit what depends on the dataset (e.g. reply length) before the first batch."""


def with_system(messages: list[dict[str, str]], system: str | None) -> list[dict[str, str]]:
    """The prompt with its system message replaced (None keeps the dataset's)."""
    if system is None:
        return messages
    rest = [m for m in messages if m["role"] != "system"]
    return ([{"role": "system", "content": system}] if system else []) + rest


def generate_for_dataset(
    store: Store,
    dataset: str,
    system: str,
    kind: str,
    generator: ReplyGenerator,
    settings: GenerationSettings,
    *,
    limit: int | None = None,
    state: TaskState | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Answer the dataset's test items the system has not answered; returns (generated, already had)."""
    state = state or null_state()
    record = ds_store.get_dataset(store, dataset)
    test_items = items.eval_items(store, record.id)
    if limit is not None:
        test_items = test_items[:limit]
    existing = response_store.find_system(store, system)
    done = (response_store.stored_example_ids(store, existing.id, [i.example_id for i in test_items])
            if existing is not None else set())
    todo = [i for i in test_items if i.example_id not in done]
    if todo:
        generator.prepare(store, record)
    provenance = {**generator.describe(), "settings": settings.to_json(), "dataset": record.name,
                  "prompt_format": "hf chat template of the export's prompt messages"}
    made = 0
    for start in range(0, len(todo), settings.batch_size):
        state.check_cancelled()
        state.update(made, len(todo), f"Generating replies ({made}/{len(todo)})")
        batch = todo[start: start + settings.batch_size]
        prompts = [with_system(items.item_prompt(record, i, "hf")["prompt"], settings.system_instruction)
                   for i in batch]
        texts = generator.generate(prompts, [i.example_id for i in batch])
        replies = [NewReply(i.example_id, t.strip(), detail="" if t.strip() else "empty generation",
                            provenance={"batch_first": batch[0].example_id})
                   for i, t in zip(batch, texts, strict=True)]
        save_replies(store, system, replies, kind=kind, provenance=provenance)
        made += len(batch)
        if on_batch is not None:
            on_batch(made, len(todo))
    state.update(made, len(todo), "Generated")
    return made, len(done)
