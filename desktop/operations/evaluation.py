"""One small function per Evaluation-page action; the page calls only these."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from core.changes import OpChanges, OpChangesWith
from core.datasets.catalog import DatasetRecord, list_datasets
from core.evaluation import report
from core.evaluation.evaluate import EvaluationResult, evaluate
from core.evaluation.responses import ResponsesImportReport, import_responses
from core.evaluation.systems import SystemInfo, list_systems
from core.progress import TaskState
from core.store import Store
from desktop.operations import CollectionOp, QueryOp

# What each export button writes: default file name, file-dialog filter, renderer.
EXPORTS = {
    "JSON": ("evaluation.json", "JSON (*.json)", report.to_json_text),
    "Markdown": ("evaluation.md", "Markdown (*.md)", report.to_markdown),
    "CSV": ("evaluation.csv", "CSV (*.csv)", report.to_csv),
    "HTML": ("evaluation.html", "HTML (*.html)", report.to_html),
}


def load_choices(*, parent: QWidget | None) -> QueryOp[tuple[list[DatasetRecord], list[SystemInfo]]]:
    return QueryOp(parent, lambda store: (list_datasets(store), list_systems(store)))


def run_evaluation(
    *, parent: QWidget | None, dataset: str, systems: list[str], seed: int
) -> CollectionOp[OpChangesWith[EvaluationResult]]:
    # A write: scoring stores the features of new texts (a cache), so it waits
    # for the integrity check like every write. Nothing another screen shows
    # changes, hence empty OpChanges.
    def op(store: Store, state: TaskState) -> OpChangesWith[EvaluationResult]:
        return OpChangesWith(OpChanges(), evaluate(store, dataset, systems, seed=seed, state=state))

    return CollectionOp(parent, op).with_progress(f"Evaluating {', '.join(systems)} on {dataset}…")


def import_replies(
    *, parent: QWidget | None, system: str, path: Path, replace: bool = False
) -> CollectionOp[OpChangesWith[ResponsesImportReport]]:
    def op(store: Store, state: TaskState) -> OpChangesWith[ResponsesImportReport]:
        return import_responses(store, system, path, replace=replace, state=state)

    return CollectionOp(parent, op).with_progress(f"Importing replies for {system}…")


def export_result(*, parent: QWidget | None, result: EvaluationResult, kind: str, path: Path) -> QueryOp[Path]:
    # Renders and writes a file from a result already in memory: no store needed.
    render = EXPORTS[kind][2]

    def op(_state: TaskState) -> Path:
        report.write_atomic(path, render(result))
        return path

    return QueryOp(parent, op).without_store()
