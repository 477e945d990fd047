"""Evaluation: the paper's metrics per symptom category for any systems (docs/evaluation.md)."""

from __future__ import annotations

from core.evaluation.evaluate import EvaluationResult, evaluate

__all__ = ["EvaluationResult", "evaluate"]
