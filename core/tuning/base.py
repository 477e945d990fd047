"""Tuning backends: one interface, a registry keyed by backend name, our own job states.

A backend (local LoRA in a child process, Vertex AI remotely) turns a
dataset into a tuned model. The job is a row in ``tuning_jobs``
(``core.store.jobs``); a backend maps whatever its runner reports onto
``TuningState`` (Kiln's mapped job states), so the CLI and the Tune page
never compare a backend's own strings.

Backends are registered by import path and loaded on first use: the local
one pulls in torch only when a job is started, never at app start.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Any

from core.errors import UsageError
from core.store import Store
from core.store.jobs import JobRecord


class TuningState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (TuningState.SUCCEEDED, TuningState.FAILED, TuningState.CANCELLED)


class TuningBackend(ABC):
    """Start, follow and stop tuning jobs of one kind; every method updates the job row."""

    name: str = ""
    description: str = ""

    @abstractmethod
    def start(self, store: Store, dataset: str, settings: dict[str, Any]) -> JobRecord:
        """Create the job row and start the run; returns at once (the run goes on elsewhere)."""

    @abstractmethod
    def poll(self, store: Store, job: JobRecord) -> JobRecord:
        """Bring the row up to date with the run (state, metrics); registers the result when done."""

    @abstractmethod
    def cancel(self, store: Store, job: JobRecord) -> JobRecord:
        """Ask the run to stop; the row says cancelled once it has."""

    def resume(self, store: Store, job: JobRecord) -> JobRecord:
        raise UsageError(f"the {self.name} backend cannot resume a job")

    def available(self) -> str | None:
        """None when this backend can run here, else one line saying what is missing."""
        return None


# backend name → "module:Class"; loaded lazily (optional dependencies).
_REGISTRY: dict[str, str] = {}
_LOADED: dict[str, TuningBackend] = {}


def register_backend(name: str, target: str) -> None:
    """Register ``"module:Class"`` under ``name`` (idempotent)."""
    _REGISTRY[name] = target
    _LOADED.pop(name, None)


def backend_names() -> list[str]:
    return sorted(_REGISTRY)


def get_backend(name: str) -> TuningBackend:
    if name not in _REGISTRY:
        raise UsageError(f"--backend: one of {', '.join(backend_names())} (got {name!r})")
    if name not in _LOADED:
        module, _, cls = _REGISTRY[name].partition(":")
        _LOADED[name] = getattr(importlib.import_module(module), cls)()
    return _LOADED[name]


register_backend("local", "core.tuning.local_lora:LocalLoraBackend")
register_backend("vertex", "core.tuning.vertex:VertexBackend")


# The entry points (CLI, GUI) read jobs through here, never through core.store.
def get_job(store: Store, job_id: int) -> JobRecord:
    from core.store import jobs as job_store

    return job_store.get_job(store, job_id)


def list_jobs(store: Store, *, backend: str | None = None) -> list[JobRecord]:
    from core.store import jobs as job_store

    return job_store.list_jobs(store, backend=backend)
