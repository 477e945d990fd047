"""Follows Vertex AI tuning jobs from the app: polls each unfinished one in the background.

Each poll asks the service without the store (the work pool) and stores the
answer on the database thread (``operations.tuning.poll_vertex``); a
succeeded job's endpoint becomes a system there. The wait between polls
starts at ``first_delay_s`` and doubles, up to ``max_delay_s``, while the job
does not move (``core.tuning.vertex.next_delay``, the rule ``attune tune
status --follow`` uses); a failed poll only lengthens it and is shown
(``errors``), never dropped. The jobs come from the workspace, so whatever
was unfinished when the app closed is polled again when it opens: the main
window starts the app's one follower shortly after start-up
(``desktop.tuning.startup``), and the Tune page shares it (``shared``).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from core.tuning.base import JobRecord
from desktop.operations import tuning as ops

# core.tuning.vertex.FIRST_POLL_S / MAX_POLL_S (not imported here: that module loads Google's SDK)
FIRST_DELAY_S = 10.0
MAX_DELAY_S = 300.0


class VertexFollower(QObject):
    job_changed = Signal(object)  # the JobRecord as stored after a poll (or unchanged, after a failed one)

    def __init__(self, parent: QWidget, *, first_delay_s: float = FIRST_DELAY_S,
                 max_delay_s: float = MAX_DELAY_S) -> None:
        super().__init__(parent)
        self._widget = parent
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.conn = None
        self.jobs: dict[int, JobRecord] = {}
        self.delay: dict[int, float] = {}  # job id → the current wait between polls
        self.due: dict[int, float] = {}  # job id → time.monotonic() of its next poll
        self.errors: dict[int, str] = {}  # job id → why its last poll failed
        self.polls = 0
        self._busy: set[int] = set()
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)

    def resume(self) -> None:
        """Load the connection and every unfinished Vertex job; poll the ones not yet followed now,
        or all of them when the connection changed (the app opening, a job just started, new settings)."""
        if not self._alive():
            return
        ops.vertex_jobs_to_follow(parent=self._widget).success(self._found).run_in_background()

    def stop(self) -> None:
        """No more polls (the page is closing; the task manager may be shutting down)."""
        self._stopped = True
        self._timer.stop()

    def saw(self, job: JobRecord) -> None:
        """The page stored news of a job itself (a cancel): a finished job is not polled again."""
        if job.finished:
            for table in (self.jobs, self.delay, self.due, self.errors):
                table.pop(job.id, None)
            self._schedule()
        elif job.id in self.jobs:
            self.jobs[job.id] = job

    def next_poll_in(self, job_id: int) -> float | None:
        at = self.due.get(job_id)
        return None if at is None else max(0.0, at - time.monotonic())

    def _found(self, found: tuple) -> None:
        if self._gone():
            return
        conn, jobs = found
        # A job already on the schedule keeps its backoff, unless the connection changed.
        again = conn != self.conn
        self.conn = conn
        now = time.monotonic()
        for job in jobs:
            if not job.remote_name:  # creating it failed before the service knew it
                continue
            self.jobs[job.id] = job
            self.delay.setdefault(job.id, self.first_delay_s)
            if job.id not in self._busy and (again or job.id not in self.due):
                self.due[job.id] = now
            if not self.conn.project:
                self.errors[job.id] = "not connected: set the project in Connection… to follow this job"
        self._schedule()

    def _schedule(self) -> None:
        waiting = [at for jid, at in self.due.items() if jid not in self._busy]
        if not waiting or self._stopped or self.conn is None or not self.conn.project:
            self._timer.stop()
            return
        self._timer.start(int(max(0.0, min(waiting) - time.monotonic()) * 1000))

    def _gone(self) -> bool:
        """Stopped, or deleted with its window while a poll was on the way back."""
        import shiboken6

        return self._stopped or not shiboken6.isValid(self)

    def _alive(self) -> bool:
        # A closed window (its task manager about to shut down, or shut down) polls no more.
        if not self._stopped and not self._widget.window().isVisible():
            self.stop()
        return not self._stopped

    def _tick(self) -> None:
        if not self._alive():
            return
        now = time.monotonic()
        for jid, at in list(self.due.items()):
            if at <= now and jid not in self._busy:
                del self.due[jid]
                self._poll(self.jobs[jid])
        self._schedule()

    def _poll(self, job: JobRecord) -> None:
        self._busy.add(job.id)
        before = job.metrics.get("remote_state")

        def polled(saved) -> None:  # then_save's OpChangesWith
            if self._gone():
                return
            done: JobRecord = saved.value
            self.errors.pop(job.id, None)
            self._after(done, changed=done.metrics.get("remote_state") != before)
            self.job_changed.emit(done)

        def failed(exc: Exception) -> None:
            if self._gone():
                return
            transient = ops.poll_failure_is_transient(exc)
            self._after(job, changed=False, slowest=not transient)
            wait = self.next_poll_in(job.id)
            self.errors[job.id] = (f"checking on Vertex AI failed: {ops.describe_poll_failure(exc)}"
                                   + (f" (trying again in {wait:.0f} s)" if wait is not None else ""))
            self.job_changed.emit(job)

        def settled() -> None:
            self._busy.discard(job.id)
            self.polls += 1
            if not self._gone():
                self._schedule()

        ops.poll_vertex(parent=self._widget, conn=self.conn, job=job).success(polled).failure(failed) \
            .finally_(settled).run_in_background()

    def _after(self, job: JobRecord, *, changed: bool, slowest: bool = False) -> None:
        if job.finished:
            for table in (self.jobs, self.delay, self.due):
                table.pop(job.id, None)
            return
        self.jobs[job.id] = job
        delay = self.max_delay_s if slowest else ops.next_poll_delay(
            self.delay.get(job.id, self.first_delay_s), changed, first=self.first_delay_s, most=self.max_delay_s)
        self.delay[job.id] = delay
        self.due[job.id] = time.monotonic() + delay


_shared: list[VertexFollower] = []


def shared(parent: QWidget) -> VertexFollower:
    """The app's one follower (made with ``parent`` if there is none yet for this task manager),
    so the window and the Tune page never poll a job twice."""
    import shiboken6

    from desktop.operations import taskman

    current = taskman()
    for follower in _shared:
        if shiboken6.isValid(follower) and not follower._stopped and follower.taskman is current:  # noqa: SLF001
            return follower
    follower = VertexFollower(parent)
    follower.taskman = current
    _shared[:] = [follower]
    return follower
