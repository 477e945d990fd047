"""Work around a PySide6 6.12 reference-count bug on Python 3.11.

On Python 3.11 every call to a Qt method that returns ``void`` drops one
reference to ``None`` that it never took (Python 3.12+ made ``None``
immortal, which hides the bug there). A GUI makes millions of such calls,
so within seconds of painting ``None``'s count reaches zero and the process
aborts with "Fatal Python error: none_dealloc". We detect the bug at import
and, only if present, give ``None`` a reference count it can never spend.
Remove this once the project requires Python 3.12+ or PySide6 is fixed.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 48  # ~2.8e14 calls: centuries of painting


def void_calls_leak_none() -> bool:
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(32):
        probe.setObjectName("probe")  # a void method
    return sys.getrefcount(None) < before - 16


def apply() -> None:
    if void_calls_leak_none():
        # ob_refcnt is the first field of every CPython object.
        ctypes.c_ssize_t.from_address(id(None)).value += _HEADROOM


apply()
