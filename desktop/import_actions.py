"""File ▸ Import and drag-and-drop: pick paths, import in the background, summarise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.changes import OpChangesWith
from core.errors import ImportFailed
from core.importers import ImportOptions, detect_format
from core.importers.csv_mapped import CSV_SUFFIXES, preview, table_bytes
from core.importing import ImportReport, expand_paths
from desktop.csv_mapping_dialog import CsvMappingDialog
from desktop.operations.importing import import_files

FAILURES_SHOWN = 12
HEAD_BYTES = 65536  # what format detection looks at
PREVIEW_BYTES = 1024 * 1024
PREVIEW_PARSE_ROWS = 200  # enough for the first session of a turn table


def choose_files(parent: QWidget) -> None:
    paths, _ = QFileDialog.getOpenFileNames(
        parent, "Import transcripts", "", "Transcripts (*.txt *.csv *.tsv *.json *.jsonl *.docx *.md);;All files (*)"
    )
    if paths:
        start_import(parent, paths)


def choose_folder(parent: QWidget) -> None:
    folder = QFileDialog.getExistingDirectory(parent, "Import every transcript in a folder")
    if folder:
        start_import(parent, [folder])


def start_import(parent: QWidget, paths: Sequence[str | Path]) -> None:
    """Import; when a CSV needs a column mapping, ask for it first (with its first rows shown)."""
    csvs = unmapped_csvs(paths)
    dialog = mapping_dialog(parent, csvs[0]) if csvs else None
    if dialog is None:
        _run_import(parent, paths, None)
        return

    def accepted() -> None:
        _run_import(parent, paths, ImportOptions(csv_map=dialog.mapping()))

    def rejected() -> None:
        # Without a mapping those CSVs cannot be read: import the rest, if there is any.
        skipped = {str(p) for p in csvs}
        rest = [p for p in paths if str(p) not in skipped]
        if rest:
            _run_import(parent, rest, None)

    dialog.accepted.connect(accepted)
    dialog.rejected.connect(rejected)
    dialog.finished.connect(dialog.deleteLater)  # emitted after accepted/rejected
    dialog.open()


def _run_import(parent: QWidget, paths: Sequence[str | Path], options: ImportOptions | None) -> None:
    import_files(parent=parent, paths=paths, options=options).success(
        lambda result: show_summary(parent, result)
    ).run_in_background(initiator=parent)


def unmapped_csvs(paths: Sequence[str | Path]) -> list[Path]:
    """The CSVs among ``paths`` (folders walked) that are not AnnoMI: they need a mapping."""
    out = []
    for path in expand_paths(paths):
        if path.suffix.lower() not in CSV_SUFFIXES:
            continue
        try:
            with path.open("rb") as f:
                head = f.read(HEAD_BYTES)
            if detect_format(path, head) == "csv":
                out.append(path)
        except (OSError, ImportFailed):
            continue  # the import itself reports the file
    return out


def mapping_dialog(parent: QWidget, path: Path) -> CsvMappingDialog | None:
    """The mapping dialog over the file's first rows; None if they cannot be read (the import says why)."""
    try:
        with path.open("rb") as f:
            head = f.read(PREVIEW_BYTES)
        header, rows = preview(path, head, rows=PREVIEW_PARSE_ROWS)
    except (OSError, ImportFailed):
        return None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    return CsvMappingDialog(parent, path=path, head=table_bytes(header, rows, delimiter=delimiter), header=header, rows=rows)


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
    if report.skipped:
        extras.append(report.skipped_line())
    furniture = sum(f.furniture_lines for f in report.files)
    if furniture:  # running heads and page stamps taken out of turns (importers/furniture.py)
        extras.append(f"{furniture} page furniture line(s) removed")
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
    box.setTextFormat(Qt.TextFormat.PlainText)  # file names and reasons are shown as typed
    box.setText(head)
    if failures:
        box.setInformativeText(failures)
    box.setDetailedText("\n".join(f.line() for f in report.files))
    box.open()
    return box
