"""Background work: one database thread, one pool for work without the store.

Modelled on Anki's ``aqt/taskman.py``. Every call into ``core`` that touches
the store runs on the single database worker thread, which opened the store
and is the only thread that ever uses it, so SQLite sees one writer and the
GUI thread never blocks on disk. Network and CPU-heavy work that needs no
store runs on a separate pool (``run_without_store``), so it never holds the
database thread. Results come back to the GUI thread through ``run_on_main``
(a locked closure queue drained by a queued signal).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from core.progress import TaskState
from core.store import Store, open_store, verify_integrity

T = TypeVar("T")

DRAIN_POLL_MS = 50
# With check_when_asked, the integrity check starts when the window asks (its
# first screen read), at the first write, or this long after start, whichever
# comes first.
INTEGRITY_CHECK_LATEST_MS = 3000


class TaskManager(QObject):
    _closures_pending = Signal()

    def __init__(self, workspace: Path, *, check_when_asked: bool = False) -> None:
        super().__init__()
        self.workspace = workspace
        self._db_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attune-db")
        self._free_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="attune-bg")
        # Ops without the store get their own pool, so a slow network call can
        # never delay the integrity check that every write waits for.
        self._work_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="attune-work")
        self._running: set[TaskState] = set()
        self._store: Store | None = None
        # quick_check of a large workspace takes about a second; it runs beside
        # the first reads instead of before them, and every write waits for it.
        # check_when_asked (the app): it starts once the first screen is read
        # (start_integrity_check), so on two cores it does not compete with
        # those reads for a core; a write starts it at the latest.
        self._integrity: Future[None] | None = None  # the running check
        self._verdict: Future[None] = Future()  # its outcome, whenever it starts
        self._check_wanted = not check_when_asked  # read and set on the database thread
        self._check_asked = False  # start_integrity_check was called (GUI thread)
        self._check_timer: QTimer | None = None
        if check_when_asked:
            self._check_timer = QTimer(self)
            self._check_timer.setSingleShot(True)
            self._check_timer.timeout.connect(self.start_integrity_check)
            self._check_timer.start(INTEGRITY_CHECK_LATEST_MS)
        self._closed = False
        self._closures: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._closures_pending.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        # Safety net: a queued wake-up emitted from a worker thread was seen to be
        # lost (a finished op whose callback never ran); a cheap poll guarantees
        # every queued closure runs within DRAIN_POLL_MS.
        self._drain_timer = QTimer(self)
        self._drain_timer.setInterval(DRAIN_POLL_MS)
        self._drain_timer.timeout.connect(self._drain)
        self._drain_timer.start()
        self._main_thread = threading.get_ident()

    # The store lives only on the database thread ##########################

    def _store_on_db_thread(self) -> Store:
        if self._store is None:
            self._store = open_store(self.workspace, check=False)
        if self._check_wanted:
            self._begin_check()
        return self._store

    def _begin_check(self) -> None:
        """Start the check on the pool (once); database thread only, the store open."""
        if self._integrity is None:
            assert self._store is not None
            self._integrity = self._free_executor.submit(verify_integrity, self._store.path)
            self._integrity.add_done_callback(lambda check: _settle(check, self._verdict))

    def _writable_store_on_db_thread(self) -> Store:
        store = self._store_on_db_thread()
        self._begin_check()  # a write never goes ahead unchecked
        self._verdict.result()  # raises WorkspaceCorrupt: nothing is written to a damaged file
        return store

    def start_integrity_check(self) -> None:
        """Start the integrity check after the database jobs queued so far (once).

        The window calls this once its first screen's reads are queued: the
        check then runs beside the painting of that screen, not its reads.
        """
        self._warn_if_not_main()
        if self._check_timer is not None:
            self._check_timer.stop()
        if self._closed or self._check_asked:
            return
        self._check_asked = True

        def begin() -> None:
            # Set here, on the database thread: a job queued earlier must not
            # start the check before its own reads.
            self._check_wanted = True
            self._store_on_db_thread()  # opens the store if need be, then starts the check

        self._db_executor.submit(begin)

    def integrity_verdict(self) -> Future[None]:
        """Resolves once the workspace's integrity check has run (raises if it failed).

        Waiting for the verdict never occupies the database thread: the check
        runs on the pool, and reads queued behind this call (the first
        screen's) go ahead of it.
        """
        verdict: Future[None] = Future()

        def opened(fut: Future[Store]) -> None:
            exc = fut.exception()
            if exc is not None:  # opening failed: that is the verdict
                verdict.set_exception(exc)
            else:
                self._verdict.add_done_callback(lambda outcome: _settle(outcome, verdict))

        self._db_executor.submit(self._store_on_db_thread).add_done_callback(opened)
        return verdict

    def run_on_db(
        self,
        fn: Callable[[Store], T],
        on_done: Callable[[Future[T]], None] | None = None,
        *,
        writes: bool = False,
    ) -> Future[T]:
        """Run ``fn(store)`` on the database thread; ``on_done(future)`` on the GUI thread.

        ``writes=True`` waits for the integrity check first (only the first
        write after opening can actually wait).
        """
        self._warn_if_not_main()
        if self._closed:
            return _refused()
        opener = self._writable_store_on_db_thread if writes else self._store_on_db_thread
        fut = self._db_executor.submit(lambda: fn(opener()))
        if on_done is not None:
            fut.add_done_callback(lambda f: self.run_on_main(lambda: on_done(f)))
        return fut

    def run_without_store(
        self,
        fn: Callable[[], T],
        on_done: Callable[[Future[T]], None] | None = None,
        *,
        state: TaskState | None = None,
    ) -> Future[T]:
        """Run ``fn()`` on the work pool (never the store); ``on_done(future)`` on the GUI thread.

        A ``state`` given here is cancelled at shutdown, so closing the window
        stops the work at its next check instead of waiting for it.
        """
        self._warn_if_not_main()
        if self._closed:
            return _refused()
        if state is not None:
            with self._lock:
                self._running.add(state)
        fut = self._work_executor.submit(fn)
        if state is not None:
            fut.add_done_callback(lambda _f: self._forget(state))
        if on_done is not None:
            fut.add_done_callback(lambda f: self.run_on_main(lambda: on_done(f)))
        return fut

    def _forget(self, state: TaskState) -> None:
        with self._lock:
            self._running.discard(state)

    def call_on_db_blocking(self, fn: Callable[[Store], T], *, writes: bool = False) -> T:
        """Only for start-up and shutdown, when there is no event loop to return to."""
        opener = self._writable_store_on_db_thread if writes else self._store_on_db_thread
        return self._db_executor.submit(lambda: fn(opener())).result()

    # Marshalling back to the GUI thread ####################################

    def run_on_main(self, closure: Callable[[], Any]) -> None:
        with self._lock:
            self._closures.append(closure)
        self._closures_pending.emit()

    @Slot()
    def _drain(self) -> None:
        with self._lock:
            closures, self._closures = self._closures, []
        for closure in closures:
            try:
                closure()
            except Exception:  # one failing callback must not drop the others queued with it
                sys.excepthook(*sys.exc_info())

    def _warn_if_not_main(self) -> None:
        if threading.get_ident() != self._main_thread:
            raise RuntimeError("background work must be started from the GUI thread")

    def shutdown(self) -> None:
        self._closed = True
        self._drain_timer.stop()
        if self._check_timer is not None:
            self._check_timer.stop()
        with self._lock:
            running = list(self._running)
        for state in running:
            state.cancel()
        def close(store: Store | None = None) -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        self._db_executor.submit(close).result()
        self._db_executor.shutdown(wait=True)
        self._free_executor.shutdown(wait=False, cancel_futures=True)
        self._work_executor.shutdown(wait=False, cancel_futures=True)


def _settle(source: Future[None], target: Future[None]) -> None:
    """Copy a finished check's outcome (passed, failed, or cancelled at shutdown) to ``target``."""
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())  # type: ignore[arg-type]
    else:
        target.set_result(None)


def _refused() -> Future[Any]:
    """What work asked for after shutdown gets (a callback of work that was running
    when the window closed, say): nothing runs, and no callback."""
    fut: Future[Any] = Future()
    fut.cancel()
    return fut
