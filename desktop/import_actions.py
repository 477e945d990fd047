"""File ▸ Import and drag-and-drop: pick paths, import in the background, summarise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.changes import OpChangesWith
from core.importing import ImportReport
from desktop.operations.importing import import_files

FAILURES_SHOWN = 12


def choose_files(parent: QWidget) -> None:
    paths, _ = QFileDialog.getOpenFileNames(
        parent, "Import transcripts", "", "Transcripts (*.txt *.csv *.json *.jsonl *.docx *.md);;All files (*)"
    )
    if paths:
        start_import(parent, paths)


def choose_folder(parent: QWidget) -> None:
    folder = QFileDialog.getExistingDirectory(parent, "Import every transcript in a folder")
    if folder:
        start_import(parent, [folder])


def start_import(parent: QWidget, paths: Sequence[str | Path]) -> None:
    import_files(parent=parent, paths=paths).success(
        lambda result: show_summary(parent, result)
    ).run_in_background(initiator=parent)


def summary_text(report: ImportReport) -> tuple[str, str]:
    """(headline, the failures one per line)."""
    n_files = len(report.files)
    failed = report.failed
    already = sum(1 for f in report.files if f.status == "already_imported")
    head = f"Imported {report.imported_transcripts} transcript(s) from {n_files} file(s)"
    extras = []
    if already:
        extras.append(f"{already} already imported")
    if failed:
        extras.append(f"{len(failed)} failed")
    if report.cancelled:
        extras.append("cancelled: the files before the cancel were kept")
    if extras:
        head += " — " + "; ".join(extras)
    lines = [f.line() for f in failed[:FAILURES_SHOWN]]
    if len(failed) > FAILURES_SHOWN:
        lines.append(f"… and {len(failed) - FAILURES_SHOWN} more (see details)")
    return head + ".", "\n".join(lines)


def show_summary(parent: QWidget, result: OpChangesWith[ImportReport]) -> QMessageBox:
    report = result.value
    head, failures = summary_text(report)
    box = QMessageBox(parent)
    box.setObjectName("importSummary")
    box.setWindowTitle("Import finished")
    box.setIcon(QMessageBox.Icon.Warning if report.failed else QMessageBox.Icon.Information)
    box.setText(head)
    if failures:
        box.setInformativeText(failures)
    box.setDetailedText("\n".join(f.line() for f in report.files))
    box.open()
    return box
