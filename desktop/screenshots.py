"""``make screenshots``: render the main screens offscreen into PNG files.

Runs the real window on a throw-away workspace holding the demonstration
transcripts, drives it with the same keys a curator uses, and saves:
curation.png, exclude-reason.png, help.png, curation-dark.png, plus the
Dataset and Evaluate pages once they are wired in.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget  # noqa: E402

SIZE = (1360, 820)


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        QTest.qWait(20)


def press(widget: QWidget, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(widget, key, modifier)
    QTest.qWait(60)


def with_dialog(window: QWidget, dialog: QWidget) -> QPixmap:
    """The window with a dialog drawn centred over it, as a user would see it."""
    shot = window.grab()
    painter = QPainter(shot)
    painter.fillRect(shot.rect(), QColor(0, 0, 0, 60))
    pic = dialog.grab()
    painter.drawPixmap(QPoint((shot.width() - pic.width()) // 2, (shot.height() - pic.height()) // 3), pic)
    painter.end()
    return shot


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: QColor(37, 38, 41),
        QPalette.ColorRole.WindowText: QColor(225, 226, 228),
        QPalette.ColorRole.Base: QColor(28, 29, 31),
        QPalette.ColorRole.AlternateBase: QColor(40, 41, 44),
        QPalette.ColorRole.Text: QColor(225, 226, 228),
        QPalette.ColorRole.Button: QColor(48, 49, 53),
        QPalette.ColorRole.ButtonText: QColor(225, 226, 228),
        QPalette.ColorRole.Highlight: QColor(74, 144, 226),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.ToolTipBase: QColor(48, 49, 53),
        QPalette.ColorRole.ToolTipText: QColor(225, 226, 228),
        QPalette.ColorRole.PlaceholderText: QColor(140, 142, 146),
    }
    for role, colour in roles.items():
        p.setColor(role, colour)
    return p


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle(QStyleFactory.create("Fusion"))  # the same look on every machine

    from desktop.app import create_main_window

    saved: list[Path] = []

    def save(pixmap: QPixmap, name: str) -> None:
        path = out / name
        if not pixmap.save(str(path)):
            raise OSError(f"{path}: could not write the screenshot")
        saved.append(path)

    with tempfile.TemporaryDirectory(prefix="attune-shots-") as home:
        win = create_main_window(home=home)
        win.resize(*SIZE)
        win.show()
        wait_until(lambda: win.rater_dialog is not None and win.rater_dialog.isVisible())
        win.rater_dialog.name.setEditText("Dr R. Example")
        win.rater_dialog.buttons.accepted.emit()
        page = win.curation
        wait_until(lambda: page.current_turn() is not None and page.panel.detail is not None)
        win.activateWindow()
        page.focus_conversation()
        wait_until(page.conversation.hasFocus)

        # A little history, made with the curator's keys.
        conv = page.conversation
        press(conv, Qt.Key.Key_I)
        press(conv, Qt.Key.Key_4)
        press(conv, Qt.Key.Key_J)
        press(conv, Qt.Key.Key_X)
        wait_until(lambda: page.reason_picker is not None and page.reason_picker.isVisible())
        press(page.reason_picker.reasons, Qt.Key.Key_4)
        wait_until(lambda: page.reason_picker is None and conv.hasFocus())
        press(conv, Qt.Key.Key_J)
        press(conv, Qt.Key.Key_5)
        press(conv, Qt.Key.Key_F)
        press(conv, Qt.Key.Key_I)
        wait_until(lambda: page.panel.status.text().startswith("Included") and page.panel.history.count() >= 3)
        wait_until(lambda: page.transcripts.model.rowCount() > 0 and page.transcripts.model.summary(0).decided >= 3)
        save(win.grab(), "curation.png")

        press(conv, Qt.Key.Key_J)
        wait_until(lambda: page.panel.detail is not None)
        press(conv, Qt.Key.Key_X)
        wait_until(lambda: page.reason_picker is not None and page.reason_picker.isVisible())
        page.reason_picker.reasons.setCurrentRow(1)
        QTest.qWait(100)
        save(with_dialog(win, page.reason_picker), "exclude-reason.png")
        press(page.reason_picker.reasons, Qt.Key.Key_Escape)
        wait_until(lambda: page.reason_picker is None)

        win.cmd_show_help()
        wait_until(lambda: win.help_panel is not None and win.help_panel.isVisible())
        win.help_panel.resize(660, 860)
        QTest.qWait(100)
        save(win.help_panel.grab(), "help.png")
        win.help_panel.close()

        page.search.edit.setText("sleep")
        page.search.run_search()
        wait_until(lambda: page.search.results.count() > 0)
        QTest.qWait(100)
        save(win.grab(), "search.png")
        page.search.edit.clear()

        for name in ("Dataset", "Evaluate"):
            other = win.pages.get(name)
            if other is not None:
                win.show_page(name)
                demo_box = getattr(other, "include_demo", None)
                if demo_box is not None:
                    # The screenshots run on the demonstration sessions, which
                    # datasets leave out unless this visible rule says otherwise.
                    demo_box.setChecked(True)
                QTest.qWait(2500)  # let the live counts arrive
                save(win.grab(), f"{name.lower()}.png")
        win.show_page("Curate")

        app.setPalette(dark_palette())
        QTest.qWait(300)
        save(win.grab(), "curation-dark.png")

        win.close()
        win.taskman.shutdown()
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
