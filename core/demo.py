"""The demonstration transcripts a new user sees on first start.

They are offered only to an empty workspace: a clinician's real workspace
never gains made-up sessions (which would then land in training data). Each
demo transcript is tagged ``metadata.demo = true``; dataset rules leave
tagged transcripts out unless ``include_demo`` is set, and any transcript,
demo or not, can be deleted (``attune transcripts delete``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.progress import TaskState
from core.resources import demo_transcripts
from core.store import Store
from core.store import transcripts as transcript_store

if TYPE_CHECKING:  # the importers load only when the demos are imported, not on every start
    from core.importing import ImportReport

_FLAG = "demo_imported"


def demo_pending(store: Store) -> bool:
    """Demos are offered once, and only while the workspace holds no transcript at all."""
    if transcript_store.get_setting(store, _FLAG, False):
        return False
    return transcript_store.count_transcripts(store) == 0


def ensure_demo_imported(store: Store, state: TaskState | None = None) -> ImportReport | None:
    """Import and tag the demos into an empty workspace, once; None when not offered.

    A user who deletes them is not pestered again; a workspace that already
    holds transcripts is never touched (the flag is set so it is not asked again).
    """
    if not demo_pending(store):
        if not transcript_store.get_setting(store, _FLAG, False):
            transcript_store.set_setting(store, _FLAG, True)
        return None
    from core.importing import import_paths

    report = import_paths(store, demo_transcripts(), state=state)
    transcript_store.mark_demo(store, [t for f in report.files for t in f.transcript_ids])
    transcript_store.set_setting(store, _FLAG, True)
    return report
