"""Attune's domain layer: store, importers, cleaning, datasets, metrics.

Nothing under ``core`` may import Qt (an import-linter contract checks it), so
everything here also runs from the ``attune`` command line and in plain tests.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("attune-studio")
except PackageNotFoundError:  # running from a frozen bundle without metadata
    __version__ = "0.1.0"
