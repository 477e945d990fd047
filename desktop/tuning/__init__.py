"""The Tune page: local LoRA tuning jobs and generation of base and tuned replies; Vertex AI jobs.

``TunePage`` loads on first use (PEP 562), so ``desktop.tuning.startup`` can
be imported by the main window without the page and its domain modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.tuning.tune_page import TunePage

__all__ = ["TunePage"]


def __getattr__(name: str):
    if name == "TunePage":
        from desktop.tuning.tune_page import TunePage

        return TunePage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
