"""The main window: pages in tabs, menus and shortcuts, the rater, drag-and-drop.

Each page is a QWidget with ``op_executed(changes, initiator)``; the window
forwards every committed operation to all of them (Anki's
``operation_did_execute``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from core.changes import OpChanges
from core.curation import UndoStatus
from core.resources import resource_dir
from desktop.curation.curation_page import CurationPage
from desktop.curation.help_panel import HelpPanel
from desktop.curation.shortcuts import SHORTCUTS, Shortcut
from desktop.operations import OpBus
from desktop.operations import curation as ops
from desktop.raters import RaterDialog
from desktop.taskman import TaskManager
from desktop.window_state import WindowState

# A page not shown first is built when first shown (or asked for): its module,
# the domain it imports (datasets, evaluation with NumPy and VADER, tuning,
# preference) and its first queries stay off the path to the first frame.
PageFactory = Callable[[], QWidget]


def _dataset_page() -> QWidget:
    from desktop.dataset_page import DatasetPage

    return DatasetPage()


def _evaluation_page() -> QWidget:
    from desktop.evaluation import EvaluationPage

    return EvaluationPage()


def _rating_page() -> QWidget:
    from desktop.preference.rating_page import RatingPage

    return RatingPage()


def _tune_page() -> QWidget:
    from desktop.tuning import TunePage

    return TunePage()


def _import_actions():
    # The importers (and the CSV mapping dialog) load when an import starts, not at start-up.
    from desktop import import_actions

    return import_actions


class Pages(Mapping[str, QWidget]):
    """The window's pages by tab name; a lazy page is built on first access."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self._names: list[str] = []

    def __getitem__(self, name: str) -> QWidget:
        if name not in self._names:
            raise KeyError(name)
        return self._window._page(name)

    def __contains__(self, name: object) -> bool:
        return name in self._names  # without building the page

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def built(self) -> list[QWidget]:
        """The pages that exist so far (a page not built yet has nothing to refresh)."""
        return [p for p in (self._window._built.get(n) for n in self._names) if p is not None]


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
        self.pages = Pages(self)
        self._built: dict[str, QWidget] = {}
        self._factories: dict[str, PageFactory] = {}
        self._containers: dict[str, QWidget] = {}
        self.add_page("Curate", self.curation)
        # Form-heavy pages scroll rather than force a tall window on small screens.
        self.add_page("Dataset", _dataset_page, scrollable=True)
        self.add_page("Evaluate", _evaluation_page, scrollable=True)
        self.add_page("Rate A/B", _rating_page)
        self.add_page("Tune", _tune_page, scrollable=True)
        self.tabs.currentChanged.connect(self._tab_changed)

        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.setInterval(0)
        self._undo_timer.timeout.connect(self.refresh_undo_actions)

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
        ops.load_first_screen(parent=self).success(self._first_screen_loaded).run_in_background()

    # Pages ####################################################################

    def add_page(self, name: str, page: QWidget | PageFactory, *, scrollable: bool = False) -> None:
        """Add a page, or replace the page of that name.

        ``page`` is a widget, or a function that makes one: then the page is
        built when its tab is first shown or ``pages[name]`` is first read.
        """
        lazy = not isinstance(page, QWidget)
        container: QWidget
        if scrollable:
            container = QScrollArea()
            container.setWidgetResizable(True)
            container.setFrameShape(QScrollArea.Shape.NoFrame)
            if not lazy:
                container.setWidget(page)
        elif lazy:
            container = QWidget()
            QVBoxLayout(container).setContentsMargins(0, 0, 0, 0)
        else:
            container = page
        if name in self._containers:
            old_container = self._containers[name]
            index = self.tabs.indexOf(old_container)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, container, name)
            old_container.deleteLater()
        else:
            self.tabs.addTab(container, name)
            self.pages._names.append(name)
        self._built.pop(name, None)
        self._factories.pop(name, None)
        if lazy:
            self._factories[name] = page
        else:
            self._built[name] = page
        self._containers[name] = container

    def _page(self, name: str) -> QWidget:
        page = self._built.get(name)
        if page is None:
            page = self._factories.pop(name)()
            self._built[name] = page
            container = self._containers[name]
            if isinstance(container, QScrollArea):
                container.setWidget(page)
            else:
                container.layout().addWidget(page)
        return page

    def _tab_changed(self, index: int) -> None:
        for name, container in self._containers.items():
            if self.tabs.widget(index) is container and name in self._factories:
                self._page(name)

    def show_page(self, name: str) -> None:
        self._page(name)
        self.tabs.setCurrentWidget(self._containers[name])

    def op_executed(self, changes: OpChanges, initiator: object) -> None:
        for page in self.pages.built():
            handler = getattr(page, "op_executed", None)
            if handler is not None:
                handler(changes, initiator)
        if changes.decisions or changes.transcripts:
            self._undo_timer.start()  # once the broadcast is over; a burst reads the status once

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
        self.import_folder_action.triggered.connect(lambda: _import_actions().choose_folder(self))

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
        from desktop.tuning import startup as tuning_startup  # File ▸ Egress log…; unfinished Vertex jobs followed

        tuning_startup.install(self, file_menu)
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
        _import_actions().choose_files(self)

    def cmd_switch_rater(self) -> None:
        self._ask_rater(first=False)

    # Rater and settings #######################################################

    def _first_screen_loaded(self, first: ops.FirstScreen) -> None:
        settings = first.settings
        self.raters = settings.raters
        self.curation.min_words = settings.min_words
        if settings.rater:
            self._use_rater(settings.rater, min_words=settings.min_words, first=first)
        else:
            self._ask_rater(first=True, min_words=settings.min_words)
        # Queued behind the list's counts just asked for: the workspace's check
        # runs while the first screen is painted, not while it is read.
        self.taskman.start_integrity_check()

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

    def _use_rater(self, name: str, *, min_words: int | None, first: ops.FirstScreen | None = None) -> None:
        starting = self.rater is None
        self.rater = name
        if name not in self.raters:
            self.raters.append(name)
        self.rater_label.setText(f"Rater: {name}")
        if starting:
            self.curation.start(rater=name, min_words=min_words or self.curation.min_words, first=first)
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
            _import_actions().start_import(self, paths)

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
