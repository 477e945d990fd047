"""Attune's PySide6 desktop GUI. All domain work goes through ``core``."""
