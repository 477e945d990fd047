"""Attune's domain layer: store, importers, cleaning, datasets, metrics.

Nothing under ``core`` may import Qt (an import-linter contract checks it), so
everything here also runs from the ``attune`` command line and in plain tests.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` on first use: importlib.metadata costs ~20 ms at every
    # start of ``attune``, and most commands never print the version.
    if name != "__version__":
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    global __version__
    try:
        __version__ = version("attune-studio")
    except PackageNotFoundError:  # running from a frozen bundle without metadata
        __version__ = "0.1.0"
    return __version__
