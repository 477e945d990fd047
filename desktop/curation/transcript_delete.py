"""Delete transcripts from the list: say what goes with them, ask, then delete.

The confirmation is built from ``deletion_impact`` (read on the database
thread), so it names the decisions, the datasets and the imported replies
that go too before anything is touched.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from core.ids import TranscriptId
from core.models import DeletionImpact
from desktop.operations import transcripts as ops


def describe(impact: DeletionImpact) -> str:
    """The confirmation's text: everything the delete takes with it."""
    n = len(impact.transcripts)
    if n == 1:
        tid, title = impact.transcripts[0]
        what = f"Delete transcript {tid} “{title}” ({impact.turns} turns)?"
    else:
        what = f"Delete {n} transcripts ({impact.turns} turns)?"
    lines = [what, "",
             f"Every rater's decisions on them go too: {impact.decisions} "
             f"decision{'s' if impact.decisions != 1 else ''} (ratings, exclusions, notes)."]
    if impact.datasets:
        lines += ["", "These datasets were built from them and are deleted as well "
                      "(their exported files on disk are not touched):"]
        lines += [f"  • {name} ({examples} examples from these transcripts)" for name, examples in impact.datasets]
        if impact.replies:
            lines.append(f"  • with {impact.replies} imported model replies to their test items")
    else:
        lines += ["", "No dataset uses them."]
    lines += ["", "This cannot be undone."]
    return "\n".join(lines)


def confirm_and_delete(parent: QWidget, ids: list[TranscriptId]) -> None:
    if not ids:
        return

    def ask(impact: DeletionImpact) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete transcripts", describe(impact),
                          QMessageBox.StandardButton.Cancel, parent)
        box.setObjectName("deleteTranscriptsConfirm")
        box.setTextFormat(Qt.TextFormat.PlainText)  # titles are the user's text
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def clicked(button: object) -> None:
            if button is delete:
                ops.delete_transcripts(parent=parent, ids=ids, with_datasets=True).run_in_background()

        box.buttonClicked.connect(clicked)
        box.open()  # window-modal, not a nested event loop

    ops.deletion_impact(parent=parent, ids=ids).success(ask).run_in_background()
