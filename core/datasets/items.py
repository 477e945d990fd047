"""The one place a stored example becomes context + target + prompt.

Export (``builder.stored_examples``), the build's frozen test items and
evaluation (``eval_items``) all come through ``stored_example``, and every
prompt a model is sent is ``formats.prompt`` of what it returns, so a test
item is rendered the same way in the training files, in ``test.jsonl`` and in
a generation request.

It is also where what a clinician withheld is applied, every time, from the
store's *current* decisions (``Withheld``):

- a turn any rater excluded (therapist or client, any reason) never appears:
  a context is cut to start after the latest excluded turn in it; if that
  leaves no client turn right before the target, the example is dropped;
  an excluded target is dropped;
- a span any rater redacted is replaced by ``[redacted]`` (overlapping spans
  merge into one).

An exclusion or redaction made after a dataset was built therefore changes
its rendered files: the export's content-hash check refuses to write them,
and evaluation drops or shortens the items concerned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.datasets import formats
from core.datasets.export import Example
from core.datasets.targets import Message, merge_turns
from core.datasets.withheld import REDACTED, Withheld, redact_text  # noqa: F401 - re-exported
from core.errors import ValidationError
from core.ids import DatasetId, TranscriptId, TurnId
from core.store import Store
from core.store import datasets as ds_store
from core.store import decisions as decision_store
from core.models import DatasetRecord, EvalItem, ExampleRow, ExcludeReason

# When raters excluded one turn for different reasons, the first of this order names it.
_REASON_RANK = {r.value: n for n, r in enumerate(ExcludeReason)}


def load_withheld(store: Store) -> Withheld:
    """Every exclusion and redaction in the store, read once (two small queries)."""
    reasons = decision_store.excluded_turn_reasons(store)
    excluded = {t: min(rs, key=lambda r: _REASON_RANK.get(r, len(_REASON_RANK))) for t, rs in reasons.items()}
    return Withheld(excluded, decision_store.all_redacted_spans(store))


def stored_context(
    turns: Sequence[tuple[TurnId, str, str, int]], withheld: Withheld
) -> tuple[tuple[Message, ...] | None, str | None]:
    """A stored context's turns (id, role, text, words), oldest first → (messages, cut reason).

    The context starts after the latest excluded turn in it (``other`` turns are
    never shown, so they cut nothing); the cut reason is that turn's exclusion
    reason, else None. Messages are None when nothing ends on a client turn.
    """
    start, cut = 0, None
    for i in range(len(turns) - 1, -1, -1):
        turn_id, role = turns[i][0], turns[i][1]
        if role != "other" and turn_id in withheld.excluded:
            start, cut = i + 1, withheld.excluded[turn_id]
            break
    messages = merge_turns((t, role, withheld.text(t, text), words) for t, role, text, words in turns[start:])
    if messages and messages[0].role != "client":
        messages = messages[1:]  # a context starts on a client turn, as at build time
    if not messages or messages[-1].role != "client":
        return None, cut
    return tuple(messages), cut


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one stored example under the current decisions."""

    example: Example | None  # None: dropped (see ``reason``)
    cut: str | None  # exclusion reason that shortened or dropped its context
    target_excluded: bool = False


def stored_example(
    row: ExampleRow,
    texts: Mapping[TurnId, tuple[str, str, int]],
    withheld: Withheld,
    client_names: tuple[str, ...] = (),
) -> Outcome:
    """The example a stored row stands for today: redacted target, context cut at exclusions."""
    if row.turn_id in withheld.excluded:
        return Outcome(None, None, target_excluded=True)
    context, cut = stored_context([(t, *texts[t]) for t in row.context_turn_ids], withheld)
    if context is None:
        return Outcome(None, cut)
    example = make_example(row.example_id, row.split, row.turn_id, row.transcript_id, row.category,
                           row.target_words, withheld.text(row.turn_id, texts[row.turn_id][1]), context,
                           client_names)
    return Outcome(example, cut)


def make_example(
    example_id: str,
    split: str,
    turn_id: TurnId,
    transcript_id: TranscriptId,
    category: str,
    target_words: int,
    target: str,
    context: tuple[Message, ...],
    client_names: Sequence[str] = (),
) -> Example:
    """The one constructor of an ``Example`` (a fresh build's and a stored row's alike).

    Client names travel only with test items: they are what evaluation checks a
    reply's name use against, and no training file holds them.
    """
    return Example(example_id, split, turn_id, transcript_id, category, target_words, target, context,
                   tuple(client_names) if split == "test" else ())


def stored_examples(
    store: Store, rows: Iterable[ExampleRow], withheld: Withheld | None = None, *, what: str = "the dataset"
) -> Iterable[Example]:
    """Examples for stored rows, in their order; rows withheld today are skipped.

    ``what`` names the dataset in the error when a turn is gone.
    """
    rows = list(rows)
    withheld = withheld if withheld is not None else load_withheld(store)
    wanted = {r.turn_id for r in rows}
    wanted.update(t for r in rows for t in r.context_turn_ids)
    texts = ds_store.turn_texts(store, wanted)
    missing = wanted - texts.keys()
    if missing:
        raise ValidationError(
            f"{what} refers to {len(missing)} turns that are no longer in the workspace "
            f"(e.g. turn {min(missing)}); build a new dataset"
        )
    names = ds_store.transcript_info(store, {r.transcript_id for r in rows if r.split == "test"})
    for r in rows:
        outcome = stored_example(r, texts, withheld, names[r.transcript_id].client_names if r.split == "test" else ())
        if outcome.example is not None:
            yield outcome.example


# Evaluation and generation ####################################################


def eval_items(store: Store, dataset_id: DatasetId) -> list[EvalItem]:
    """The dataset's test items as evaluation sees them: exactly the exported test items.

    Items whose target is excluded today, or whose context an exclusion leaves
    without a client turn, are left out; redacted spans read ``[redacted]``.
    """
    rows = ds_store.examples_of(store, dataset_id, "test")
    return [
        EvalItem(
            example_id=e.example_id,
            dataset_id=dataset_id,
            category=e.category,
            context=tuple((m.role, m.text) for m in e.context),
            reference=e.target,
            client_names=e.client_names,
            turn_id=e.turn_id,
            transcript_id=e.transcript_id,
        )
        for e in stored_examples(store, rows, what=f"dataset {dataset_id}")
    ]


def as_messages(context: Iterable[tuple[str, str]]) -> tuple[Message, ...]:
    """An ``EvalItem.context`` back as messages (roles and texts are all rendering needs)."""
    return tuple(Message(role, text, ()) for role, text in context)


def item_prompt(record: DatasetRecord, item: EvalItem, fmt: str) -> dict[str, Any]:
    """What to send a model for a test item, in ``fmt`` (``formats.FORMATS``).

    Equal to the item's training-format line minus its target, because both
    come from ``formats._render``.
    """
    form = record.rules.get("vertex_form", formats.DEFAULT_VERTEX_FORM)
    return formats.prompt(fmt, record.system_instruction, as_messages(item.context), form)


def prompts_for_test_items(store: Store, record: DatasetRecord, fmt: str) -> dict[str, dict[str, Any]]:
    """example id → generation prompt in ``fmt``, for every test item evaluation would score."""
    return {item.example_id: item_prompt(record, item, fmt) for item in eval_items(store, record.id)}
