"""The Evaluation page, split: the page and its tables (``page``), ``charts``,
the ``item_reader`` and the file dialogs (``import_export``); its operations
are in ``desktop.operations.evaluation``."""

from __future__ import annotations

from desktop.evaluation.page import EvaluationPage

__all__ = ["EvaluationPage"]
