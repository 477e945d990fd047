"""Starting the desktop app: QApplication, the task manager, the main window."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from core.errors import AttuneError
from core.workspace import workspace_dir
from desktop import operations
from desktop.operations import OpBus
from desktop.taskman import TaskManager


# How long a thread may hold the GIL while another waits for it. The GUI and
# the database thread hand every key press and every result to each other:
# at Python's default 5 ms, each hand-off can wait up to 5 ms for the other
# thread to let go (a key press to its commit crosses two).
GIL_SWITCH_INTERVAL_S = 0.001


def create_main_window(home: str | Path | None = None):
    """Build the app's objects; tests call this with a temporary home."""
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
    from core.demo import demo_pending, ensure_demo_imported
    from desktop.main_window import MainWindow

    workspace = workspace_dir(home)
    taskman = TaskManager(workspace, check_when_asked=True)  # the window asks once its first screen is read
    bus = OpBus()
    operations.install(taskman, bus)
    if taskman.call_on_db_blocking(demo_pending):
        taskman.call_on_db_blocking(ensure_demo_imported, writes=True)
    window = MainWindow(taskman, bus)
    _freeze_after_first_screen(window)
    taskman.integrity_verdict().add_done_callback(
        lambda fut: fut.exception() and taskman.run_on_main(lambda: window.integrity_failed(fut.exception()))
    )
    return window


def _freeze_after_first_screen(window) -> None:
    """Move what start-up made out of the garbage collector's sight (``gc.freeze``).

    On a 1M-turn workspace the first screen leaves about 40,000 long-lived
    objects (the eligible turns, the first conversation, Qt wrappers). A
    full collection walks all of them: 20-47 ms on the GUI thread now and
    then (measured on the shared machine), in the middle of a key press.
    Frozen, they are never walked again; they are still freed by reference
    counting when dropped. Freezing only moves lists, so it costs nothing at
    start (a collection first would cost the very pause this avoids, on the
    first paint's path).
    """

    if _frozen:
        return  # once per process: a later window's objects are not a start-up's (tests open many)

    def freeze(_turn_id: int) -> None:
        global _frozen
        window.curation.detail_shown.disconnect(freeze)
        if not _frozen:
            _frozen = True
            gc.freeze()

    window.curation.detail_shown.connect(freeze)


_frozen = False


def main(home: str | Path | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Attune")
    app.setOrganizationName("Attune")
    try:
        window = create_main_window(home)
    except AttuneError as exc:
        box = QMessageBox(QMessageBox.Icon.Critical, "Attune", str(exc))
        box.setTextFormat(Qt.TextFormat.PlainText)  # the message names a path the user typed
        box.exec()
        print(f"attune: {exc}", file=sys.stderr)
        return 1
    window.show()
    code = app.exec()
    window.taskman.shutdown()
    return code
