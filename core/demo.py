"""The demonstration transcripts a new user sees on first start."""

from __future__ import annotations

from core.importing import ImportReport, import_paths
from core.progress import TaskState
from core.resources import demo_transcripts
from core.store import Store
from core.store import transcripts as transcript_store

_FLAG = "demo_imported"


def demo_pending(store: Store) -> bool:
    return not transcript_store.get_setting(store, _FLAG, False)


def ensure_demo_imported(store: Store, state: TaskState | None = None) -> ImportReport | None:
    """Import the demos once per workspace; a user who deletes them is not pestered again."""
    if transcript_store.get_setting(store, _FLAG, False):
        return None
    report = import_paths(store, demo_transcripts(), state=state)
    transcript_store.set_setting(store, _FLAG, True)
    return report
