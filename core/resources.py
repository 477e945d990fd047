"""Finding bundled files, from a source tree, an installed wheel or a frozen bundle."""

from __future__ import annotations

import sys
from importlib import resources as importlib_resources
from pathlib import Path


def resource_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(str(importlib_resources.files("resources")))


def demo_transcripts() -> list[Path]:
    return sorted((resource_dir() / "demo").glob("*.txt"))
