"""Attune's PySide6 desktop GUI. All domain work goes through ``core``."""

# Must run before any Qt code does: see the module's docstring.
from desktop import pyside_fixes as _pyside_fixes  # noqa: E402,F401
