"""What issue 15 adds to the main window: File ▸ Egress log…, and following Vertex AI jobs from start-up.

Both stay off the path to the first frame: the dialog's module loads when
the menu item is chosen, and the follower (``vertex_follower``) first looks
for unfinished Vertex AI jobs a moment after the window is up, so a job that
was running when the app closed is polled again without opening the Tune tab.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow, QMenu

FOLLOW_AFTER_MS = 2000


def install(window: QMainWindow, file_menu: QMenu) -> None:
    action = file_menu.addAction("Egress log (what left this machine)…")
    action.setObjectName("egressLogAction")
    action.triggered.connect(lambda: _open_log(window))
    QTimer.singleShot(FOLLOW_AFTER_MS, window, lambda: _follow(window))


def _open_log(window: QMainWindow) -> None:
    from desktop.egress_log_dialog import open_egress_log

    open_egress_log(window)


def _follow(window: QMainWindow) -> None:
    from desktop.tuning import vertex_follower

    if window.isVisible():
        vertex_follower.shared(window).resume()
