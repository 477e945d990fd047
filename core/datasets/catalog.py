"""The workspace's stored datasets: list, get, delete (the SQL is ``core.store.datasets``).

Building one is ``builder.build_dataset``; its test items are ``items.eval_items``.
"""

from __future__ import annotations

from pathlib import Path

from core.datasets import rendered
from core.models import LENGTH_HISTOGRAM_CAP, SPLITS, DatasetRecord
from core.store import Store
from core.store import datasets as ds_store
from core.store.datasets import dataset_exists, example_counts, get_dataset, list_datasets

__all__ = [
    "LENGTH_HISTOGRAM_CAP", "SPLITS", "DatasetRecord", "dataset_exists", "delete_dataset", "example_counts",
    "get_dataset", "kept_files", "list_datasets",
]


def delete_dataset(store: Store, name: str) -> None:
    """Delete a stored dataset and the example files its build kept in the workspace."""
    ds_store.delete_dataset(store, name)
    rendered.prune(store)


def kept_files(store: Store, record: DatasetRecord) -> Path | None:
    """The folder holding the files the dataset's build rendered, if it is still there."""
    folder = rendered.folder_of(store, record)
    return folder if folder is not None and folder.is_dir() else None
