"""The progress dialog shows counts past a 32-bit int (bytes of a multi-GB download)."""

from __future__ import annotations

from core.progress import TaskState
from desktop.progress import ProgressWatcher


def test_a_byte_count_past_two_gib_fills_the_bar_in_proportion(qtbot) -> None:
    state = TaskState()
    watcher = ProgressWatcher(None, "Downloading", state)
    try:
        state.update(3 * 2**30, 6 * 2**30, "weights")  # 3 of 6 GiB
        watcher._poll()
        bar = watcher.dialog
        assert bar.maximum() > 0
        assert abs(bar.value() / bar.maximum() - 0.5) < 1e-6
        state.update(5, 10, "small")
        watcher._poll()
        assert (bar.value(), bar.maximum()) == (5, 10)
    finally:
        watcher.finish()
