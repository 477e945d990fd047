"""The workspace's stored datasets: list, get, delete (the SQL is ``core.store.datasets``).

Building one is ``builder.build_dataset``; its test items are ``items.eval_items``.
"""

from __future__ import annotations

from core.models import LENGTH_HISTOGRAM_CAP, SPLITS, DatasetRecord
from core.store.datasets import dataset_exists, delete_dataset, example_counts, get_dataset, list_datasets

__all__ = [
    "LENGTH_HISTOGRAM_CAP", "SPLITS", "DatasetRecord", "dataset_exists", "delete_dataset", "example_counts",
    "get_dataset", "list_datasets",
]
