"""One small function per dataset action; the Dataset page calls only these."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from core.changes import OpChanges, OpChangesWith
from core.datasets import DatasetRules, ExportResult, Preview, build_dataset, export_dataset, preview
from core.progress import TaskState
from core.store import Store
from core.datasets import catalog
from core.models import DatasetRecord
from desktop.operations import CollectionOp, QueryOp


def preview_rules(*, parent: QWidget | None, rules: DatasetRules) -> QueryOp[Preview]:
    return QueryOp(parent, lambda store: preview(store, rules))


def list_datasets(*, parent: QWidget | None) -> QueryOp[list[DatasetRecord]]:
    return QueryOp(parent, catalog.list_datasets)


def build(*, parent: QWidget | None, name: str, rules: DatasetRules) -> CollectionOp[OpChangesWith[DatasetRecord]]:
    def op(store: Store, state: TaskState) -> OpChangesWith[DatasetRecord]:
        return OpChangesWith(OpChanges(datasets=True), build_dataset(store, name, rules, state))

    return CollectionOp(parent, op).with_progress(f"Building dataset {name}…")


def export(*, parent: QWidget | None, name: str, folder: Path) -> QueryOp[ExportResult]:
    # Writes files, not the store: a query as far as the other screens are concerned.
    return QueryOp(parent, lambda store, state: export_dataset(store, name, folder, state)).with_progress(
        f"Exporting dataset {name}…"
    )
