"""What left the machine: the egress log, read for the GUI (issue 15 item 4)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from core import egress
from desktop.operations import QueryOp


def load_log(*, parent: QWidget | None) -> QueryOp[list]:
    """Every upload and generation run, newest first (``attune egress-log``)."""
    return QueryOp(parent, lambda store: egress.log_entries(store))
