"""Every keyboard shortcut of the curation screen, in one table.

The actions are built from this table and the help panel is rendered from it,
so the help can never disagree with what the keys actually do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shortcut:
    command: str  # name of the handler method on the curation page / main window
    keys: tuple[str, ...]  # QKeySequence strings, the first is shown in menus
    description: str
    group: str


MOVE = "Move"
DECIDE = "Decide"
EDIT = "Edit"
FIND = "Find and help"

SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("next_turn", ("J", "Down"), "Next eligible therapist turn (continues into the next transcript)", MOVE),
    Shortcut("previous_turn", ("K", "Up"), "Previous eligible therapist turn (continues into the previous transcript)", MOVE),
    Shortcut("next_transcript", ("Shift+J", "Ctrl+Down"), "First eligible turn of the next transcript", MOVE),
    Shortcut("previous_transcript", ("Shift+K", "Ctrl+Up"), "First eligible turn of the previous transcript", MOVE),
    Shortcut("include", ("I",), "Include the turn (or the selected turns)", DECIDE),
    Shortcut("exclude", ("X",), "Exclude the turn (or the selected turns) with a reason", DECIDE),
    Shortcut("rate_1", ("1",), "Rate the turn 1 (poor)", DECIDE),
    Shortcut("rate_2", ("2",), "Rate the turn 2", DECIDE),
    Shortcut("rate_3", ("3",), "Rate the turn 3", DECIDE),
    Shortcut("rate_4", ("4",), "Rate the turn 4", DECIDE),
    Shortcut("rate_5", ("5",), "Rate the turn 5 (excellent)", DECIDE),
    Shortcut("toggle_flag", ("F",), "Flag the turn for later review, or unflag it", DECIDE),
    Shortcut("edit_note", ("N",), "Write a note on the turn", DECIDE),
    Shortcut("clear_decision", ("Backspace",), "Clear your decision on the turn (or the selected turns)", DECIDE),
    Shortcut("undo", ("Ctrl+Z",), "Undo the last step", EDIT),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", EDIT),
    Shortcut("set_category", ("Ctrl+Shift+C",), "Set the category of the selected transcripts", EDIT),
    Shortcut("focus_search", ("/", "Ctrl+F"), "Search every turn's text", FIND),
    Shortcut("focus_transcripts", ("Ctrl+L",), "Go to the transcript list", FIND),
    Shortcut("focus_conversation", ("Ctrl+E",), "Back to the conversation", FIND),
    Shortcut("show_help", ("?", "F1"), "Show this list of shortcuts", FIND),
    Shortcut("import_files", ("Ctrl+O",), "Import transcript files", FIND),
    Shortcut("switch_rater", ("Ctrl+R",), "Switch rater", FIND),
)

GROUPS: tuple[str, ...] = (MOVE, DECIDE, EDIT, FIND)


def by_command(command: str) -> Shortcut:
    for s in SHORTCUTS:
        if s.command == command:
            return s
    raise KeyError(command)
