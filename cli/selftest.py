"""``attune --self-test``: prove that this installation works, on this machine.

It runs in the source tree and in the frozen bundle alike, always in a fresh
temporary workspace (never the user's), with no network, and prints one screen:
one line per step, then a verdict. Exit status 0 means every step passed or was
skipped for a stated reason; 1 names the steps that failed.

HOW TO ADD A STEP (dataset, evaluation, and any later area)
-----------------------------------------------------------
``STEPS`` below is the ordered list. A step is a small function
``step_<name>(ctx: SelfTestContext) -> str`` that:

- returns a short one-line detail for the summary (``"3 examples, 1 test"``);
- raises ``Skipped("reason")`` when it cannot apply here (it never fails the run);
- raises anything else to fail; the message is shown, so make it name what
  went wrong (an ``AttuneError`` message is shown as is).

Keep a step under a second or two, offline, and inside ``ctx.workspace``; put
the real work in your own package and call it from here. Use ``ctx.store`` (the
open workspace, demo transcripts already imported) and pass results to later
steps through the fields of ``SelfTestContext`` (``dataset_name`` is there for
the evaluation step). A step that cannot run here raises ``Skipped(reason)``;
keep names and order stable.

Qt and ``desktop`` are imported inside ``step_main_window`` only, so the other
steps (and ``attune --help``) never pay for loading Qt. This module lives in
``cli/``, above both ``core`` and ``desktop`` (import-linter layers).
"""

from __future__ import annotations

import os
import platform
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import __version__
from core.errors import AttuneError
from core.store import Store, open_store

NO_KEYCHAIN = "none (passphrase will be asked each session)"


class Skipped(Exception):
    """A step that does not apply here; the reason is shown, the run still passes."""


@dataclass
class SelfTestContext:
    workspace: Path
    store: Store | None = None
    transcripts_imported: int = 0
    # Set by step_dataset for step_evaluation.
    dataset_name: str | None = None
    notes: list[str] = field(default_factory=list)

    def require_store(self) -> Store:
        if self.store is None:
            raise Skipped("needs the workspace step")
        return self.store


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    status: str  # PASS | SKIP | FAIL
    detail: str
    seconds: float


# The steps ##################################################################


def step_workspace(ctx: SelfTestContext) -> str:
    ctx.store = open_store(ctx.workspace)
    mode = ctx.store.conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        raise AttuneError(f"{ctx.store.path}: journal mode is {mode}, expected wal")
    detail = "new workspace, WAL"
    if os.name == "posix":
        perms = stat.S_IMODE(ctx.store.path.stat().st_mode)
        if perms & 0o077:
            raise AttuneError(f"{ctx.store.path}: readable by others (mode {perms:o}), expected 600")
        detail += ", owner-only"
    return detail


def step_demo_transcripts(ctx: SelfTestContext) -> str:
    from core.demo import ensure_demo_imported
    from core.resources import demo_transcripts, resource_dir
    from core import transcripts as transcript_store

    store = ctx.require_store()
    files = demo_transcripts()
    if not files:
        raise AttuneError(f"{resource_dir() / 'demo'}: no demonstration transcripts (*.txt) found")
    report = ensure_demo_imported(store)
    if report is None:
        raise AttuneError("the demo transcripts were marked imported in a brand-new workspace")
    if report.failed:
        first = report.failed[0]
        more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
        raise AttuneError(f"{Path(first.path).name}: {first.message}{more}")
    listed = len(transcript_store.list_transcripts(store))
    if listed != report.imported_transcripts or listed == 0:
        raise AttuneError(f"imported {report.imported_transcripts} transcripts but the store lists {listed}")
    ctx.transcripts_imported = listed
    return f"{listed} transcripts from {len(files)} files"


def step_dataset(ctx: SelfTestContext) -> str:
    """Build and export a dataset from the demo transcripts; the build runs the leakage check."""
    from core.datasets import DatasetRules, build_dataset, export_dataset

    store = ctx.require_store()
    if not ctx.transcripts_imported:
        raise Skipped("needs the demo transcripts step")
    # Six demo sessions, one client each: 60/20/20 gives every split a client.
    # the demos are tagged as such and left out of datasets unless a rule asks for them
    record = build_dataset(store, "self-test", DatasetRules(split=(60, 20, 20), include_demo=True))
    splits = record.counts["splits"]
    if not splits.get("train") or not splits.get("test"):
        raise AttuneError(f"dataset self-test: expected train and test examples, got {splits}")
    result = export_dataset(store, record.name, ctx.workspace / "self-test-export")
    from core.files import read_complete

    # Published whole (one rename, ctypes exchange included in a bundle) and marked so.
    if read_complete(ctx.workspace / "self-test-export") is None:
        raise AttuneError("dataset self-test: the export folder's COMPLETE.json does not verify")
    ctx.dataset_name = record.name
    return (f"{splits['train']} train, {splits['validation']} validation, {splits['test']} test; "
            f"{len(result.files)} files exported")


def step_main_window(ctx: SelfTestContext) -> str:
    """Open the real main window on the offscreen platform and let it load the list."""
    ctx.require_store()
    previous = os.environ.get("QT_QPA_PLATFORM")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        return _open_main_window(ctx)
    finally:
        if previous is None:
            os.environ.pop("QT_QPA_PLATFORM", None)
        else:
            os.environ["QT_QPA_PLATFORM"] = previous


def _open_main_window(ctx: SelfTestContext) -> str:
    from PySide6 import QtCore as qt_core
    from PySide6 import QtWidgets as qt_widgets

    from desktop import app as desktop_app

    messages: list[str] = []

    def collect(mode, _context, message: str) -> None:
        # Qt's warnings would scroll the summary off the screen; they are shown
        # only if the step fails.
        messages.append(str(message))

    qt_core.qInstallMessageHandler(collect)
    try:
        app = qt_widgets.QApplication.instance() or qt_widgets.QApplication([sys.argv[0]])
        window = desktop_app.create_main_window(ctx.workspace)
        try:
            window.show()
            _settle(qt_core, app, window)
            _refuse_error_dialogs(qt_widgets, app)
            shot = window.grab()
            if shot.isNull() or shot.width() == 0:
                raise AttuneError("the main window could not be drawn offscreen")
            pages = _page_names(qt_widgets, window)
            size = f"{shot.width()}x{shot.height()}"
        finally:
            window.close()
            window.taskman.shutdown()
            app.processEvents()
    except Exception as exc:
        if messages:
            exc.add_note("Qt said: " + " | ".join(messages[-3:]))
        raise
    finally:
        qt_core.qInstallMessageHandler(None)
    return f"{app.platformName()}, {size}" + (f", pages: {', '.join(pages)}" if pages else "")


def _settle(qt_core, app, window, rounds: int = 4) -> None:
    """Let the window's start-up queries run and their results arrive on the GUI thread."""
    flags = qt_core.QEventLoop.ProcessEventsFlag.AllEvents
    for _ in range(rounds):
        # A no-op queued behind the window's database work returns once that work is done.
        window.taskman.call_on_db_blocking(lambda store: None)
        deadline = time.monotonic() + 0.1
        while time.monotonic() < deadline:
            app.processEvents(flags, 20)
            time.sleep(0.005)


def _refuse_error_dialogs(qt_widgets, app) -> None:
    """An operation that failed during start-up shows a message box: that is a failure here."""
    for widget in app.topLevelWidgets():
        if isinstance(widget, qt_widgets.QMessageBox) and widget.isVisible():
            icon = widget.icon()
            if icon in (qt_widgets.QMessageBox.Icon.Warning, qt_widgets.QMessageBox.Icon.Critical):
                raise AttuneError(f"the window showed an error: {widget.text()}")


def _page_names(qt_widgets, window) -> list[str]:
    tabs = window.findChild(qt_widgets.QTabWidget)
    return [tabs.tabText(i) for i in range(tabs.count())] if tabs is not None else []


def step_evaluation(ctx: SelfTestContext) -> str:
    """Score the built-in sample evaluation and compare with its hand-worked figures."""
    from core.evaluation.sample import self_check

    return self_check(ctx.require_store(), ctx.workspace / "selftest-replies", ctx.dataset_name)


def step_keychain(ctx: SelfTestContext) -> str:
    name, secure = keychain_backend()
    if not secure:
        return NO_KEYCHAIN
    return name


STEPS: list[tuple[str, Callable[[SelfTestContext], str]]] = [
    ("workspace", step_workspace),
    ("demo transcripts", step_demo_transcripts),
    ("dataset", step_dataset),
    ("main window", step_main_window),
    ("evaluation", step_evaluation),
    ("keychain", step_keychain),
]


# Keychain ###################################################################


def keychain_backend() -> tuple[str, bool]:
    """(name, secure): the OS keychain ``keyring`` would use, if a secure one exists.

    Secure means an OS backend with priority >= 1 (macOS Keychain, Windows
    Credential Locker, Secret Service/KWallet over D-Bus). A plaintext backend
    (``keyrings.alt``) is an error, not a fallback: it would write secrets to
    disk in the clear.
    """
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError as exc:
        raise AttuneError(f"the keyring package is missing from this installation ({exc})") from exc
    selected = keyring.get_keyring()
    backends = list(selected.backends) if isinstance(selected, chainer.ChainerBackend) else [selected]
    for backend in backends:
        if type(backend).__module__.startswith("keyrings.alt"):
            raise AttuneError(
                f"an insecure keyring backend is installed ({type(backend).__module__}); "
                "remove the keyrings.alt package"
            )
    secure = [b for b in backends if not isinstance(b, fail.Keyring) and _priority(b) >= 1]
    if not secure:
        return NO_KEYCHAIN, False
    return ", ".join(getattr(b, "name", type(b).__name__) for b in secure), True


def _priority(backend: object) -> float:
    try:
        return float(backend.priority)  # type: ignore[attr-defined]
    except Exception:  # a backend whose viability check itself fails is not usable
        return 0.0


# Running ####################################################################


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AttuneError):
        text = str(exc)
    else:
        # An unexpected error: say where it happened, briefly.
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
        text = f"{type(exc).__name__}: {exc}{where}"
    notes = getattr(exc, "__notes__", None)
    if notes:
        text += "; " + "; ".join(notes)
    return text


def run_steps(
    ctx: SelfTestContext, steps: list[tuple[str, Callable[[SelfTestContext], str]]] | None = None
) -> list[StepResult]:
    results: list[StepResult] = []
    for name, step in steps if steps is not None else STEPS:
        start = time.perf_counter()
        try:
            detail, status = step(ctx), "PASS"
        except Skipped as exc:
            detail, status = str(exc), "SKIP"
        except Exception as exc:
            detail, status = _describe(exc), "FAIL"
        results.append(StepResult(name, status, detail, time.perf_counter() - start))
    return results


def _where() -> str:
    if getattr(sys, "frozen", False):
        return f"bundle {Path(sys.executable).resolve().parent}"
    return f"source {Path(__file__).resolve().parent.parent}"


def format_summary(results: list[StepResult], total_s: float) -> str:
    lines = [
        f"Attune {__version__} self-test  ({_where()}; {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()})"
    ]
    width = max(len(r.name) for r in results)
    for r in results:
        timing = f"{r.seconds:5.2f} s" if r.status != "SKIP" else ""
        lines.append(f"  {r.status:<4}  {r.name:<{width}}  {timing:>7}  {r.detail}")
    failed = [r.name for r in results if r.status == "FAIL"]
    counts = (
        f"{sum(r.status == 'PASS' for r in results)} passed, "
        f"{sum(r.status == 'SKIP' for r in results)} skipped, {len(failed)} failed"
    )
    if failed:
        lines.append(f"self-test FAILED: {', '.join(failed)}  ({counts}, {total_s:.1f} s)")
    else:
        lines.append(f"self-test passed  ({counts}, {total_s:.1f} s)")
    return "\n".join(lines)


def run_self_test(args: object = None) -> int:
    """The ``--self-test`` handler: always a throwaway workspace, whatever ``--home`` says."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="attune-selftest-", ignore_cleanup_errors=True) as tmp:
        ctx = SelfTestContext(workspace=Path(tmp) / "workspace")
        try:
            results = run_steps(ctx)
        finally:
            if ctx.store is not None:
                ctx.store.close()
    print(format_summary(results, time.perf_counter() - start))
    sys.stdout.flush()
    return 1 if any(r.status == "FAIL" for r in results) else 0
