"""Qt-free progress and cancellation for long work.

Long core functions take a ``TaskState``; they call ``update`` as they go and
``check_cancelled`` at safe points. The GUI polls the state on a timer (the
Anki ``progress.py`` pattern: progress is pulled, never pushed), so worker
threads never touch widgets and the event loop is never flooded. The command
line passes a state whose ``on_update`` draws a bar on stderr.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import OperationCancelled


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    label: str = ""


class TaskState:
    def __init__(self, on_update: Callable[[Progress], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._progress = Progress(0, 0, "")
        self._cancel = threading.Event()
        self._on_update = on_update

    def update(self, done: int, total: int, label: str = "") -> None:
        progress = Progress(done, total, label)
        with self._lock:
            self._progress = progress
        if self._on_update is not None:
            self._on_update(progress)

    @property
    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise OperationCancelled("cancelled by the user")


def null_state() -> TaskState:
    """A state nobody watches, for callers that need no progress."""
    return TaskState()
