"""Asking where to export a result and which replies to import (the file dialogs)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from desktop.operations.evaluation import EXPORTS


def ask_export_path(parent: QWidget, kind: str) -> Path | None:
    default, pattern, _ = EXPORTS[kind]
    path, _ = QFileDialog.getSaveFileName(parent, f"Export evaluation as {kind}", default, pattern)
    return Path(path) if path else None


def ask_replies_to_import(parent: QWidget) -> tuple[str, Path] | None:
    """A JSONL file of one system's replies and the system's name, or None if the user gave up."""
    path, _ = QFileDialog.getOpenFileName(parent, "Import a system's replies", "", "JSON Lines (*.jsonl *.json)")
    if not path:
        return None
    system, ok = QInputDialog.getText(parent, "Import replies", "System name (e.g. base, tuned):")
    if not ok or not system.strip():
        return None
    return system.strip(), Path(path)
