"""Curated transcripts into leakage-safe, reproducible fine-tuning datasets.

``rules`` (what is selected), ``targets`` (targets and their contexts),
``splits`` (grouped, stratified, seeded), ``leakage`` (the check every build
passes), ``tokens`` (offline limits), ``formats`` (one line per service),
``export`` (atomic folder), ``card`` (DATASET.md) and ``builder`` (the three
entry points: ``preview``, ``build_dataset``, ``export_dataset``).
"""

from __future__ import annotations

from core.datasets.builder import ExportResult, Preview, build_dataset, export_dataset, preview
from core.datasets.catalog import delete_dataset, get_dataset, list_datasets
from core.datasets.leakage import LeakageError
from core.datasets.rules import DatasetRules

__all__ = [
    "DatasetRules",
    "ExportResult",
    "LeakageError",
    "Preview",
    "build_dataset",
    "delete_dataset",
    "export_dataset",
    "get_dataset",
    "list_datasets",
    "preview",
]
