"""DATASET.md: the dataset card written beside the exported files.

Everything in it comes from the stored dataset and the exported files' hashes,
and nothing depends on the clock, so exporting twice gives the same bytes.
"""

from __future__ import annotations

from typing import Any

from core.datasets import tokens
from core.datasets.export import EXAMPLE_FILES, Rendered
from core.datasets.formats import LOSS
from core.datasets.rules import DatasetRules, format_split
from core.datasets.targets import REMOVAL_REASONS
from core.models import SPLITS, DatasetRecord
from core.text_safety import markdown_code, markdown_inline

EXTRA_REMOVAL_REASONS = {
    "demo": "demonstration transcript (rule: include demo transcripts)",
    "same_prompt_as_test": "same client text as the frozen test split",
    "frozen_test_holdout": "same client or transcript as the frozen test split",
    "duplicates_test": "same text as a test target",
    "over_token_limit": "over the per-example token limit",
    "excluded_context": "an excluded turn right before it: no client turn left to answer",
}


# Target-length bins of the card's distribution table: (low, high or None, label).
WORD_BUCKETS = ((0, 49, "<50"), (50, 74, "50-74"), (75, 99, "75-99"), (100, 149, "100-149"),
                (150, 249, "150-249"), (250, None, "250+"))


def removal_order(removed: dict[str, int]) -> list[str]:
    """Reasons in the order the rules apply them; unknown keys (older builds) last."""
    known = [*REMOVAL_REASONS, *EXTRA_REMOVAL_REASONS]
    return [k for k in known if k in removed] + sorted(k for k in removed if k not in known)


def removal_label(key: str) -> str:
    return REMOVAL_REASONS.get(key) or EXTRA_REMOVAL_REASONS.get(key) or key


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def render_card(record: DatasetRecord, rendered: Rendered) -> bytes:
    rules = DatasetRules.from_dict(record.rules)
    counts = record.counts
    # The name is the user's: a backtick or HTML in it must not break out of the heading.
    lines = [f"# Dataset {markdown_code(record.name)}", ""]
    lines += [
        "Fine-tuning examples built by Attune from curated therapy-session transcripts. "
        "Each example is one therapist reply (the target) with the conversation that led to it.",
        "",
        "**Contains private clinical conversation. Keep it on trusted storage and share it only "
        "under the data agreement that covers the source transcripts.**",
        "",
        "## Rules",
        "",
    ]
    lines += _table(
        ["rule", "value"],
        [
            ["target", f"therapist turn of at least {rules.min_words} words"],
            ["minimum rating", rules.min_rating if rules.min_rating is not None else "none (unrated turns kept)"],
            ["reviewed only", "yes" if rules.reviewed_only else "no (unreviewed turns count)"],
            ["demonstration transcripts", "included" if rules.include_demo else "left out"],
            ["session rules (every session must meet)",
             "; ".join(markdown_code(r).replace("|", "\\|") for r in rules.session_rules) or "none"],
            ["context", f"up to {rules.context_turns} turns and {rules.context_chars} characters, "
                        "starting and ending on a client turn"],
            ["split (train/validation/test %)", format_split(rules.split)],
            ["grouping", "by client, or by transcript when the client is unknown; targets answering "
                         "the same or a near-identical client text share a group"],
            ["stratified by", "symptom category"],
            ["seed", record.seed],
            ["over token limit", rules.over_limit],
            ["Vertex AI form", "multi-turn contents (every therapist turn is trained on)"
             if rules.vertex_form == "multi_turn" else "labelled transcript + target (only the target is trained on)"],
            ["test split", _test_split_line(record, counts)],
        ],
    )
    lines += ["", "System instruction:", ""]
    lines += ["> " + markdown_inline(line) if line else ">"
              for line in (record.system_instruction or "(none)").splitlines()]
    lines += ["", "## Counts", ""]
    categories = sorted(counts.get("by_category", {}))
    rows = []
    for cat in categories:
        per = counts["by_category"][cat]
        rows.append([cat, *(per.get(s, 0) for s in SPLITS), sum(per.get(s, 0) for s in SPLITS)])
    splits = counts.get("splits", {})
    rows.append(["**all**", *(splits.get(s, 0) for s in SPLITS), sum(splits.get(s, 0) for s in SPLITS)])
    lines += _table(["category", *SPLITS, "total"], rows)
    lines += [
        "",
        f"Therapist turns of {rules.min_words}+ words: {counts.get('candidates', 0)}; "
        f"targets still unreviewed: {counts.get('unreviewed_targets', 0)}; "
        f"flagged by a rater: {counts.get('flagged_targets', 0)}.",
        "",
        "Left out:",
        "",
    ]
    removed = counts.get("removed", {})
    lines += _table(["reason", "turns"], [[removal_label(k), removed[k]] for k in removal_order(removed)])
    lines += _withheld_section(counts)
    lines += ["", "## Length distribution (target words)", ""]
    dist = counts.get("target_words", {})
    buckets = dist.get("buckets", {})
    lines += _table(
        ["words", *SPLITS],
        [[label, *(buckets.get(label, {}).get(s, 0) for s in SPLITS)] for _, _, label in WORD_BUCKETS],
    )
    lines += [
        "",
        f"min {dist.get('min', 0)}, median {dist.get('median', 0)}, 90th percentile "
        f"{dist.get('p90', 0)}, max {dist.get('max', 0)} words.",
        "",
        "## Token estimate and limits",
        "",
        f"Estimated tokens per example (offline, {tokens.MARGIN:.2f} × max(characters / "
        f"{tokens.CHARS_PER_TOKEN}, words × {tokens.TOKENS_PER_WORD}) + {tokens.TOKENS_PER_MESSAGE} per message): "
        f"max {counts.get('tokens', {}).get('max', 0)}, mean {counts.get('tokens', {}).get('mean', 0)}. "
        f"Vertex AI limits: {tokens.MAX_TOKENS_PER_EXAMPLE} tokens per example, "
        f"{tokens.MAX_VALIDATION_EXAMPLES} validation examples, 1 GB per file.",
        "",
    ]
    lines += _loss_section(rules)
    warnings = counts.get("warnings", [])
    lines += ["## Warnings", ""]
    lines += [f"- {markdown_inline(w)}" for w in warnings] if warnings else ["None."]
    lines += ["", "## Files", ""]
    lines += _table(
        ["file", "bytes", "sha256"],
        [[f"`{name}`", rendered.sizes[name], f"`{rendered.files[name]}`"] for name in EXAMPLE_FILES],
    )
    lines += [
        "",
        f"Content hash (sha256 over the files above, in this order): `{rendered.content_hash}`",
        "",
        f"Training-content hash (the seven training/test message files, which hold no example ids): "
        f"`{rendered.training_hash}`",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _withheld_section(counts: dict[str, Any]) -> list[str]:
    """What clinicians withheld: context cuts at excluded turns, per reason, and redactions."""
    cuts = counts.get("context_cuts", {})
    shortened, dropped = cuts.get("shortened", {}), cuts.get("dropped", {})
    lines = [
        "",
        "### Withheld by clinicians",
        "",
        "No text of an excluded turn (therapist or client) is in any file: a context that would hold "
        "one starts after it, and an example left with no client turn right before its target is "
        "dropped. Redacted spans read `[redacted]`.",
        "",
    ]
    reasons = sorted(set(shortened) | set(dropped))
    if reasons:
        lines += _table(["exclusion reason", "examples shortened", "examples dropped"],
                        [[r or "(unknown)", shortened.get(r, 0), dropped.get(r, 0)] for r in reasons])
    else:
        lines.append("No context held an excluded turn.")
    lines += ["", f"Examples with a redacted span (context or target): {counts.get('redacted_examples', 0)}."]
    return lines


def _loss_section(rules: DatasetRules) -> list[str]:
    vertex = LOSS["vertex:multi_turn" if rules.vertex_form == "multi_turn" else "vertex:transcript"]
    return [
        "## What carries the loss",
        "",
        f"- `openai_*.jsonl` (OpenAI chat fine-tuning): {LOSS['openai']}.",
        f"- `hf_*.jsonl` (Hugging Face / TRL, conversational prompt–completion): {LOSS['hf']}.",
        f"- `vertex_*.jsonl` (Vertex AI Gemini, {rules.vertex_form.replace('_', '-')} form): {vertex}.",
        "- `test.jsonl` holds no training text: `messages` is the prompt a model is sent (the same "
        "messages as the Hugging Face `prompt`), `reference` the therapist's real reply.",
        "",
    ]


def _test_split_line(record: DatasetRecord, counts: dict[str, Any]) -> str:
    source = counts.get("test_from_name")
    parts = []
    if source:
        parts.append(f"reused from the frozen test split of dataset {markdown_code(source)}".replace("|", "\\|"))
    if record.test_frozen:
        parts.append("frozen: later datasets reuse it")
    return "; ".join(parts) or "drawn for this dataset"
