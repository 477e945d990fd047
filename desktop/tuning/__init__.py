"""The Tune page: local LoRA tuning jobs and generation of base and tuned replies."""

from desktop.tuning.tune_page import TunePage

__all__ = ["TunePage"]
