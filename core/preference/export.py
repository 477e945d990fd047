"""Locked sessions out to files: the report (Markdown, CSV, JSON) and preference datasets.

Preference data (the paper's closing idea: a professional rates therapist
behaviour and the model learns from it): every decisive vote on an item's
pair of systems is counted; the side with more votes is ``chosen``, the other
``rejected``; a pair whose votes split evenly, or that got only ties, "both
bad" or skips, is dropped and counted in the card. Prompts are rendered by
``core.datasets.formats.prompt`` from the dataset's system instruction and
the context as rendered today, exactly like the training files' prompts.

- ``preferences.openai.jsonl``: OpenAI preference fine-tuning (DPO) lines,
  ``{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}``;
- ``preferences.trl.jsonl``: TRL ``DPOTrainer`` conversational lines,
  ``{"prompt": [...], "chosen": [...], "rejected": [...]}``;
- ``PREFERENCES.md``: the card (session, raters, agreement, what was dropped).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.datasets import formats
from core.datasets.items import as_messages
from core.files import FolderPublisher
from core.preference import analysis
from core.preference.sessions import unblinded_pairs, unblinded_votes
from core.store import Store
from core.store import datasets as ds_store
from core.store import preference as pref_store

REPORT_FILES = ("report.md", "report.csv", "report.json", "votes.csv")
PREFERENCE_FILES = ("preferences.openai.jsonl", "preferences.trl.jsonl", "PREFERENCES.md")


def write_report(store: Store, session_id: int, out: Path | str) -> dict:
    rep = analysis.report(store, session_id)
    with FolderPublisher(Path(out), REPORT_FILES) as pub:
        pub.write("report.md", analysis.markdown(rep) + "\n")
        pub.write("report.csv", _csv(analysis.csv_rows(rep)))
        pub.write("report.json", json.dumps(rep, indent=2, ensure_ascii=False) + "\n")
        keys = ["item_id", "rater", "left_system", "right_system", "choice", "category", "repeat"]
        pub.write("votes.csv", _csv([keys, *([v[k] for k in keys] for v in rep["votes"])]))
        pub.commit({"kind": "ab-report", "session": session_id})
    return rep


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@dataclass(frozen=True, slots=True)
class PreferenceExport:
    pairs: int
    decisive_votes: int
    dropped_split: int  # even split between the two sides
    dropped_indecisive: int  # only ties, "both bad" or skips
    ties: int
    both_bad: int
    skips: int


def export_preferences(store: Store, session_id: int, out: Path | str) -> PreferenceExport:
    """Write the preference files and card into ``out`` (one folder, all or nothing)."""
    session = pref_store.get_session(store, session_id)
    rows = unblinded_votes(store, session_id)
    texts = unblinded_pairs(store, session_id)
    record = ds_store.get_dataset(store, session.dataset_name) if session.dataset_id is not None else None
    system_instruction = record.system_instruction if record else ""
    counts: dict[tuple[str, frozenset[str]], Counter[str]] = {}
    for r in rows:
        unit = counts.setdefault((r.item_id, frozenset((r.left_system, r.right_system))), Counter())
        winner = {"a": r.left_system, "b": r.right_system}.get(r.choice)
        unit[winner or r.choice] += 1
    openai_lines, trl_lines = [], []
    split = indecisive = 0
    for (eid, pair), c in sorted(counts.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1]))):
        x, y = sorted(pair)
        if eid not in texts:  # excluded since: its text must not leave the workspace
            continue
        if c[x] == c[y]:
            if c[x]:
                split += 1
            else:
                indecisive += 1
            continue
        chosen, rejected = (x, y) if c[x] > c[y] else (y, x)
        context, replies = texts[eid]
        messages = as_messages(context)
        openai_prompt = formats.prompt("openai", system_instruction, messages)["messages"]
        trl_prompt = formats.prompt("hf", system_instruction, messages)["prompt"]
        openai_lines.append(formats.dumps_line({
            "input": {"messages": openai_prompt},
            "preferred_output": [{"role": "assistant", "content": replies[chosen]}],
            "non_preferred_output": [{"role": "assistant", "content": replies[rejected]}],
        }))
        trl_lines.append(formats.dumps_line({
            "prompt": trl_prompt,
            "chosen": [{"role": "assistant", "content": replies[chosen]}],
            "rejected": [{"role": "assistant", "content": replies[rejected]}],
        }))
    choices = Counter(r.choice for r in rows)
    summary = PreferenceExport(
        pairs=len(openai_lines), decisive_votes=choices["a"] + choices["b"], dropped_split=split,
        dropped_indecisive=indecisive, ties=choices["t"], both_bad=choices["z"], skips=choices["s"],
    )
    agree = analysis.agreement([r for r in rows if r.repeat_of_key is None and r.choice != "s"], session.raters)
    card = "\n".join([
        f"# Preferences from A/B session {session.id}",
        "",
        f"- Dataset: `{session.dataset_name}`; systems compared: {', '.join(session.systems)}",
        f"- Raters: {', '.join(session.raters)}",
        f"- Agreement on items judged by several raters ({agree['units']}): Cohen's kappa "
        f"{analysis._fmt(agree['cohen_kappa'])}, Krippendorff's alpha {analysis._fmt(agree['krippendorff_alpha'])}",
        f"- Preference pairs written: {summary.pairs} (from {summary.decisive_votes} decisive votes; "
        "the side with more votes is chosen)",
        f"- Dropped: {summary.dropped_split} pairs whose votes split evenly; {summary.dropped_indecisive} pairs "
        f"with no decisive vote; in all {summary.ties} tie votes, {summary.both_bad} \"both bad\" votes and "
        f"{summary.skips} skips were left out",
        "- Prompts: rendered by the same code as the dataset's training files (system instruction, then "
        "the context as rendered today, exclusions and redactions applied)",
        "",
        "Files: `preferences.openai.jsonl` (OpenAI preference fine-tuning), `preferences.trl.jsonl` "
        "(TRL DPOTrainer, conversational prompt/chosen/rejected).",
        "",
    ])
    with FolderPublisher(Path(out), PREFERENCE_FILES) as pub:
        pub.write("preferences.openai.jsonl", b"".join(openai_lines))
        pub.write("preferences.trl.jsonl", b"".join(trl_lines))
        pub.write("PREFERENCES.md", card)
        pub.commit({"kind": "ab-preferences", "session": session.id, "pairs": summary.pairs})
    return summary
