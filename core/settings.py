"""Workspace settings, for the screens and the command line (the SQL is ``core.store.settings``).

Values are JSON: numbers, strings, lists, small dicts. Keys are dotted by area
(``curation.rater``, ``curation.min_words``); an area keeps its own key names.
"""

from __future__ import annotations

from core.store.settings import get_setting, set_setting

__all__ = ["get_setting", "set_setting"]
