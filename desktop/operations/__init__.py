"""CollectionOp and QueryOp: one small object per user action.

Modelled on Anki's ``aqt/operations/__init__.py``:

- ``CollectionOp`` performs a *mutating* call into core on the database
  thread, then broadcasts the returned ``OpChanges`` so screens refresh
  (``MainWindow.operation_did_execute``).
- ``QueryOp`` reads (or does work outside the undo history) and hands the
  result to ``success`` on the GUI thread.

Both can show a progress dialog with Cancel: the op receives a ``TaskState``
which the dialog polls every 100 ms (progress is pulled, never pushed).
Errors go to ``failure`` if given, else to an error dialog; they are never
swallowed. Never call UI code inside ``op``: it runs on the worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from core.changes import OpChanges, OpChangesWith
from core.errors import OperationCancelled
from core.progress import TaskState
from core.store import Store

if TYPE_CHECKING:
    from desktop.taskman import TaskManager

T = TypeVar("T")


class OpBus(QObject):
    """Where finished mutations are announced: (changes, initiator)."""

    operation_did_execute = Signal(object, object)


_context: dict[str, Any] = {}


def install(taskman: TaskManager, bus: OpBus) -> None:
    """Called once by the app; ops find the task manager and bus here."""
    _context["taskman"] = taskman
    _context["bus"] = bus


def taskman() -> TaskManager:
    return _context["taskman"]


def bus() -> OpBus:
    return _context["bus"]


class _Op(Generic[T]):
    def __init__(self, parent: QWidget | None, op: Callable[..., T]) -> None:
        self._parent = parent
        self._op = op
        self._success: Callable[[T], Any] | None = None
        self._failure: Callable[[Exception], Any] | None = None
        self._progress_label: str | None = None
        self.state = TaskState()

    def success(self, cb: Callable[[T], Any]) -> _Op[T]:
        self._success = cb
        return self

    def failure(self, cb: Callable[[Exception], Any]) -> _Op[T]:
        self._failure = cb
        return self

    def with_progress(self, label: str) -> _Op[T]:
        """Show a progress dialog with Cancel; ``op`` then receives ``(store, state)``."""
        self._progress_label = label
        return self

    def _call(self, store: Store) -> T:
        if self._progress_label is not None:
            return self._op(store, self.state)
        return self._op(store)

    def _start(self, after: Callable[[T], None], *, writes: bool = False) -> Future[T]:
        from desktop.progress import ProgressWatcher

        watcher = (
            ProgressWatcher(self._parent, self._progress_label, self.state)
            if self._progress_label is not None
            else None
        )

        def done(fut: Future[T]) -> None:
            if watcher is not None:
                watcher.finish()
            try:
                result = fut.result()
            except OperationCancelled:
                return
            except Exception as exc:  # shown to the user, never swallowed
                if self._failure is not None:
                    self._failure(exc)
                else:
                    from desktop.errors import show_exception

                    show_exception(self._parent, exc)
                return
            after(result)

        return taskman().run_on_db(self._call, done, writes=writes)


class CollectionOp(_Op[T]):
    """A mutation: its result is OpChanges or OpChangesWith, broadcast when done."""

    def run_in_background(self, *, initiator: object | None = None) -> Future[T]:
        def after(result: T) -> None:
            changes = result.changes if isinstance(result, OpChangesWith) else result
            if isinstance(changes, OpChanges) and changes.any():
                bus().operation_did_execute.emit(changes, initiator)
            if self._success is not None:
                self._success(result)

        return self._start(after, writes=True)


class QueryOp(_Op[T]):
    """A read: ``success`` gets the value on the GUI thread."""

    def run_in_background(self) -> Future[T]:
        def after(result: T) -> None:
            if self._success is not None:
                self._success(result)

        return self._start(after)
