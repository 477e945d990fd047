"""CollectionOp and QueryOp: one small object per user action.

Modelled on Anki's ``aqt/operations/__init__.py``:

- ``CollectionOp`` performs a *mutating* call into core on the database
  thread, then broadcasts the returned ``OpChanges`` so screens refresh
  (``MainWindow.operation_did_execute``).
- ``QueryOp`` reads (or does work outside the undo history) and hands the
  result to ``success`` on the GUI thread.
- ``QueryOp(...).without_store()`` (Anki's ``without_collection()``) runs
  network or CPU-heavy work on a separate pool, never on the database thread,
  so reads and writes go on meanwhile; ``.then_save(fn)`` hands its result to
  ``fn(store, result)`` on the database thread as a write whose ``OpChanges``
  are broadcast like a ``CollectionOp``'s.

Every op owns a ``TaskState`` (``op.state``): long work polls it with
``state.check_cancelled()``; the progress dialog's Cancel and ``op.cancel()``
set it. An op that ends cancelled calls ``on_cancel`` (not ``success`` or
``failure``), and ``finally_`` runs on the GUI thread after any ending.
Errors go to ``failure`` if given, else to an error dialog; they are never
swallowed. Never call UI code inside ``op``: it runs on a worker thread.
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


def _broadcast(result: Any, initiator: object | None) -> None:
    changes = result.changes if isinstance(result, OpChangesWith) else result
    if isinstance(changes, OpChanges) and changes.any():
        bus().operation_did_execute.emit(changes, initiator)


class _Op(Generic[T]):
    def __init__(self, parent: QWidget | None, op: Callable[..., Any]) -> None:
        self._parent = parent
        self._op = op
        self._success: Callable[[Any], Any] | None = None
        self._failure: Callable[[Exception], Any] | None = None
        self._on_cancel: Callable[[], Any] | None = None
        self._finally: Callable[[], Any] | None = None
        self._progress_label: str | None = None
        self._without_store = False
        self._save: Callable[[Store, Any], Any] | None = None
        self.state = TaskState()

    # Builder ###################################################################

    def success(self, cb: Callable[[T], Any]) -> _Op[T]:
        self._success = cb
        return self

    def failure(self, cb: Callable[[Exception], Any]) -> _Op[T]:
        self._failure = cb
        return self

    def on_cancel(self, cb: Callable[[], Any]) -> _Op[T]:
        """Runs on the GUI thread when the op ended because it was cancelled."""
        self._on_cancel = cb
        return self

    def finally_(self, cb: Callable[[], Any]) -> _Op[T]:
        """Runs on the GUI thread after any ending: success, failure or cancel."""
        self._finally = cb
        return self

    def with_progress(self, label: str) -> _Op[T]:
        """Show a progress dialog with Cancel; ``op`` then receives ``(store, state)``."""
        self._progress_label = label
        return self

    def cancel(self) -> None:
        """What the progress dialog's Cancel does; the op stops at its next check."""
        self.state.cancel()

    # Running ###################################################################

    def _call(self, store: Store) -> Any:
        if self._progress_label is not None:
            return self._op(store, self.state)
        return self._op(store)

    def _start(self, after: Callable[[Any], None], *, writes: bool = False) -> Future[Any]:
        from desktop.progress import ProgressWatcher

        watcher = (
            ProgressWatcher(self._parent, self._progress_label, self.state)
            if self._progress_label is not None
            else None
        )

        def settle(fut: Future[Any]) -> None:
            try:
                self._deliver(fut, after)
            finally:
                if watcher is not None:
                    watcher.finish()
                if self._finally is not None:
                    self._finally()

        if not self._without_store:
            return taskman().run_on_db(self._call, settle, writes=writes)

        # Without the store: the work runs on its own pool; the save (if any)
        # is queued on the database thread from the GUI thread once it is done.
        outer: Future[Any] = Future()

        def resolve(fut: Future[Any]) -> None:
            try:
                settle(fut)
            finally:
                if fut.cancelled():  # the pool shut down before the work started
                    outer.cancel()
                elif fut.exception() is not None:
                    outer.set_exception(fut.exception())  # type: ignore[arg-type]
                else:
                    outer.set_result(fut.result())

        def worked(fut: Future[Any]) -> None:
            if self._save is None or fut.cancelled() or fut.exception() is not None:
                resolve(fut)
                return
            value = fut.result()

            def save(store: Store) -> Any:
                # Cancel pressed during the work: nothing is written.
                self.state.check_cancelled()
                return self._save(store, value)  # type: ignore[misc]

            taskman().run_on_db(save, resolve, writes=True)

        taskman().run_without_store(lambda: self._op(self.state), worked, state=self.state)
        return outer

    def _deliver(self, fut: Future[Any], after: Callable[[Any], None]) -> None:
        try:
            result = fut.result()
        except OperationCancelled:
            if self._on_cancel is not None:
                self._on_cancel()
            return
        except Exception as exc:  # shown to the user, never swallowed
            if self._failure is not None:
                self._failure(exc)
            else:
                from desktop.errors import show_exception

                show_exception(self._parent, exc)
            return
        after(result)


class CollectionOp(_Op[T]):
    """A mutation: its result is OpChanges or OpChangesWith, broadcast when done."""

    def run_in_background(self, *, initiator: object | None = None) -> Future[T]:
        def after(result: T) -> None:
            _broadcast(result, initiator)
            if self._success is not None:
                self._success(result)

        return self._start(after, writes=True)


class QueryOp(_Op[T]):
    """A read: ``success`` gets the value on the GUI thread.

    With ``without_store()``, ``op`` is called as ``op(state)`` off the
    database thread; with ``then_save(fn)`` its result is saved by
    ``fn(store, result)`` on the database thread and ``success`` gets what
    ``fn`` returned.
    """

    def without_store(self) -> QueryOp[T]:
        """Run ``op(state)`` on the pool for work that never touches the store."""
        self._without_store = True
        return self

    def then_save(self, save: Callable[[Store, Any], OpChanges | OpChangesWith[Any]]) -> QueryOp[Any]:
        """After the work, ``save(store, result)`` as a write; its changes are broadcast."""
        if not self._without_store:
            raise RuntimeError("then_save() follows without_store(): a store op can write itself")
        self._save = save
        return self

    def run_in_background(self, *, initiator: object | None = None) -> Future[T]:
        def after(result: T) -> None:
            if self._save is not None:
                _broadcast(result, initiator)
            if self._success is not None:
                self._success(result)

        return self._start(after)
