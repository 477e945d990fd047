"""The main window: pages in tabs, menus and shortcuts, the rater, drag-and-drop.

Each page is a QWidget with ``op_executed(changes, initiator)``; the window
forwards every committed operation to all of them (Anki's
``operation_did_execute``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QScrollArea, QTabWidget, QWidget

from core.changes import OpChanges
from core.curation import UndoStatus
from core.resources import resource_dir
from desktop import import_actions
from desktop.curation.curation_page import CurationPage
from desktop.curation.help_panel import HelpPanel
from desktop.curation.shortcuts import SHORTCUTS, Shortcut
from desktop.dataset_page import DatasetPage
from desktop.evaluation import EvaluationPage
from desktop.operations import OpBus
from desktop.operations import curation as ops
from desktop.preference.rating_page import RatingPage
from desktop.tuning import TunePage
from desktop.raters import RaterDialog
from desktop.taskman import TaskManager
from desktop.window_state import WindowState

# Commands the window handles itself; the rest go to the curation page and
# are live only while the keyboard is in the conversation or transcript list,
# so typing in the search box or a dialog never decides a turn.
WINDOW_COMMANDS = {"undo", "redo", "focus_search", "show_help", "import_files", "switch_rater"}


class MainWindow(QMainWindow):
    def __init__(self, taskman: TaskManager, bus: OpBus) -> None:
        super().__init__()
        self.taskman = taskman
        self.bus = bus
        self.setWindowTitle("Attune")
        self.setObjectName("mainWindow")
        icon = resource_dir() / "icons" / "attune.svg"
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self.rater: str | None = None
        self.raters: list[str] = []
        self.help_panel: HelpPanel | None = None
        self.rater_dialog: RaterDialog | None = None

        self.tabs = QTabWidget()
        self.tabs.setObjectName("pages")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.curation = CurationPage()
        self.pages: dict[str, QWidget] = {}
        self._containers: dict[str, QWidget] = {}
        self.add_page("Curate", self.curation)
        # Form-heavy pages scroll rather than force a tall window on small screens.
        self.add_page("Dataset", DatasetPage(), scrollable=True)
        self.add_page("Evaluate", EvaluationPage(), scrollable=True)
        self.add_page("Rate A/B", RatingPage())
        self.add_page("Tune", TunePage(), scrollable=True)

        self.actions_by_command: dict[str, QAction] = {}
        self._build_actions()
        self._build_menus()
        self.rater_label = QLabel("Rater: –")
        self.rater_label.setTextFormat(Qt.TextFormat.PlainText)  # a rater's name is typed by a user
        self.rater_label.setObjectName("raterLabel")
        self.statusBar().addPermanentWidget(self.rater_label)
        self.curation.message.connect(lambda text: self.statusBar().showMessage(text, 4000))

        self.window_state = WindowState(taskman.workspace)
        self.window_state.restore(self, self._splitters())
        bus.operation_did_execute.connect(self.op_executed)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):  # Qt 6.5+
            hints.colorSchemeChanged.connect(self._color_scheme_changed)
        ops.load_settings(parent=self).success(self._settings_loaded).run_in_background()

    # Pages ####################################################################

    def add_page(self, name: str, page: QWidget, *, scrollable: bool = False) -> None:
        """Add a page, or replace the page of that name."""
        container: QWidget = page
        if scrollable:
            container = QScrollArea()
            container.setWidgetResizable(True)
            container.setFrameShape(QScrollArea.Shape.NoFrame)
            container.setWidget(page)
        old = self.pages.get(name)
        if old is not None:
            old_container = self._containers[name]
            index = self.tabs.indexOf(old_container)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, container, name)
            old_container.deleteLater()
        else:
            self.tabs.addTab(container, name)
        self.pages[name] = page
        self._containers[name] = container

    def show_page(self, name: str) -> None:
        self.tabs.setCurrentWidget(self._containers[name])

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        for page in self.pages.values():
            handler = getattr(page, "op_executed", None)
            if handler is not None:
                handler(changes, initiator)
        if changes.decisions or changes.transcripts:
            self.refresh_undo_actions()

    # Actions built from the shortcut table #####################################

    def _build_actions(self) -> None:
        for shortcut in SHORTCUTS:
            action = QAction(shortcut.description, self)
            action.setObjectName(f"action_{shortcut.command}")
            action.setShortcuts([QKeySequence(k) for k in shortcut.keys])
            action.triggered.connect(lambda _=False, s=shortcut: self.run_command(s))
            if shortcut.command in WINDOW_COMMANDS:
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
                self.addAction(action)
            else:
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.curation.conversation.addAction(action)
                self.curation.transcripts.view.addAction(action)
            self.actions_by_command[shortcut.command] = action
        self.import_folder_action = QAction("Import folder…", self)
        self.import_folder_action.triggered.connect(lambda: import_actions.choose_folder(self))

    def _build_menus(self) -> None:
        a = self.actions_by_command
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        a["import_files"].setText("Import files…")
        file_menu.addAction(a["import_files"])
        file_menu.addAction(self.import_folder_action)
        open_package = file_menu.addAction("Open rating package…")
        open_package.setObjectName("openRatingPackageAction")
        open_package.triggered.connect(lambda: (self.show_page("Rate A/B"), self.pages["Rate A/B"].choose_package()))
        file_menu.addSeparator()
        quit_action = file_menu.addAction("Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        edit = bar.addMenu("&Edit")
        a["undo"].setText("Undo")
        a["redo"].setText("Redo")
        a["set_category"].setText("Set category of selected transcripts…")
        edit.addActions([a["undo"], a["redo"]])
        edit.addSeparator()
        edit.addAction(a["set_category"])
        curate = bar.addMenu("&Curate")
        for group in ("Move", "Decide"):
            for s in SHORTCUTS:
                if s.group == group:
                    curate.addAction(a[s.command])
            curate.addSeparator()
        for cmd in ("focus_search", "focus_transcripts", "focus_conversation"):
            curate.addAction(a[cmd])
        rater_menu = bar.addMenu("&Rater")
        a["switch_rater"].setText("Switch rater…")
        rater_menu.addAction(a["switch_rater"])
        help_menu = bar.addMenu("&Help")
        a["show_help"].setText("Keyboard shortcuts")
        help_menu.addAction(a["show_help"])
        about = help_menu.addAction("About Attune")
        about.setObjectName("aboutAction")
        about.triggered.connect(self.show_about)

    def show_about(self) -> None:
        """Version, workspace and its newest backup (files only: no query, nothing to wait for)."""
        from PySide6.QtWidgets import QMessageBox

        from core import __version__
        from core.store.backups import list_backups
        from core.workspace import BACKUP_DIRNAME

        workspace = Path(self.taskman.workspace)
        found = list_backups(workspace / BACKUP_DIRNAME)
        newest = (f"Newest backup: {found[-1].path.name}\n({found[-1].taken.astimezone():%Y-%m-%d %H:%M}, "
                  f"{found[-1].reason}; {len(found)} kept)" if found else "No backup yet.")
        box = QMessageBox(self)
        box.setObjectName("aboutDialog")
        box.setWindowTitle("About Attune")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(f"Attune {__version__}\n\nWorkspace: {workspace}\n{newest}\n\n"
                    "Restore one with: attune restore BACKUP")
        box.open()

    def run_command(self, shortcut: Shortcut) -> None:
        handler = getattr(self, f"cmd_{shortcut.command}", None)
        if handler is not None:
            handler()
        else:
            self.curation.run_command(shortcut.command)

    # Window-level commands ####################################################

    def cmd_undo(self) -> None:
        if self.rater:
            ops.undo(parent=self, rater=self.rater).success(
                lambda r: self._undo_done("Undid", r.value)
            ).run_in_background(initiator=self)

    def cmd_redo(self) -> None:
        if self.rater:
            ops.redo(parent=self, rater=self.rater).success(
                lambda r: self._undo_done("Redid", r.value)
            ).run_in_background(initiator=self)

    def _undo_done(self, verb: str, label: str | None) -> None:
        text = f"{verb}: {label}" if label else f"Nothing to {verb[:-1].lower()}"
        self.statusBar().showMessage(text, 4000)
        self.refresh_undo_actions()

    def refresh_undo_actions(self) -> None:
        if not self.rater:
            return
        ops.load_undo_status(parent=self, rater=self.rater).success(self._show_undo_status).run_in_background()

    def _show_undo_status(self, status: UndoStatus) -> None:
        undo_label, redo_label = status.undo_label, status.redo_label
        # Only the text follows the status: a disabled action would drop a
        # Ctrl+Z pressed before this refresh arrives; core says "nothing to undo".
        self.actions_by_command["undo"].setText(f"Undo {undo_label}" if undo_label else "Undo (nothing to undo)")
        self.actions_by_command["redo"].setText(f"Redo {redo_label}" if redo_label else "Redo (nothing to redo)")

    def cmd_focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.curation)
        self.curation.cmd_focus_search()

    def cmd_show_help(self) -> None:
        if self.help_panel is None:
            self.help_panel = HelpPanel(self)
        self.help_panel.show()
        self.help_panel.raise_()
        self.help_panel.activateWindow()

    def cmd_import_files(self) -> None:
        import_actions.choose_files(self)

    def cmd_switch_rater(self) -> None:
        self._ask_rater(first=False)

    # Rater and settings #######################################################

    def _settings_loaded(self, settings: ops.CurationSettings) -> None:
        self.raters = settings.raters
        self.curation.min_words = settings.min_words
        if settings.rater:
            self._use_rater(settings.rater, min_words=settings.min_words)
        else:
            self._ask_rater(first=True, min_words=settings.min_words)

    def _ask_rater(self, *, first: bool, min_words: int | None = None) -> None:
        dialog = RaterDialog(self, raters=self.raters, current=None if first else self.rater)
        self.rater_dialog = dialog

        def finished(result: int) -> None:
            self.rater_dialog = None
            dialog.deleteLater()
            if result != RaterDialog.DialogCode.Accepted:
                return
            name = dialog.chosen()
            ops.set_rater(parent=self, name=name).success(
                lambda _r: self._use_rater(name, min_words=min_words)
            ).run_in_background(initiator=self)

        dialog.finished.connect(finished)
        # Shown once the window is, so it sits on top of it.
        QTimer.singleShot(0, dialog.open)

    def _use_rater(self, name: str, *, min_words: int | None) -> None:
        first = self.rater is None
        self.rater = name
        if name not in self.raters:
            self.raters.append(name)
        self.rater_label.setText(f"Rater: {name}")
        if first:
            self.curation.start(rater=name, min_words=min_words or self.curation.min_words)
            self.curation.focus_conversation()
        else:
            self.curation.set_rater(name)
            self.statusBar().showMessage(f"Now rating as {name}", 4000)
        self.refresh_undo_actions()

    def _color_scheme_changed(self, _scheme: object) -> None:
        # Qt swaps the palette; the delegates read it on every paint, so a
        # repaint is all the light/dark switch needs.
        for view in (self.curation.conversation, self.curation.transcripts.view, self.curation.search.results):
            view.viewport().update()

    # Drag and drop, closing ###################################################

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            import_actions.start_import(self, paths)

    def _splitters(self) -> dict:
        return {"curation": self.curation.splitter}

    def integrity_failed(self, exc: BaseException) -> None:
        """The workspace failed its integrity check: stop all work on it, say why."""
        from desktop.errors import show_exception

        self.centralWidget().setEnabled(False)
        self.statusBar().showMessage("This workspace is damaged; nothing will be written to it.")
        show_exception(self, exc)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.window_state.save(self, self._splitters())
        super().closeEvent(event)
