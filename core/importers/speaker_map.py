"""User-supplied speaker label → role maps (``--speaker-map FILE``)."""

from __future__ import annotations

from pathlib import Path

from core.bounded_read import read_small_json
from core.errors import ValidationError
from core.models import Role


def normalise_label(label: str) -> str:
    """``Dr. Lee`` and ``DR LEE`` are the same speaker label."""
    return " ".join(label.replace(".", " ").upper().split())


def load_speaker_map(path: Path) -> dict[str, Role]:
    # Bounded and strict: a FIFO, /dev/zero, deep nesting or NaN is one line (issue 11).
    raw = read_small_json(path)
    if not isinstance(raw, dict):
        raise ValidationError(f"{path}: expected a JSON object of label → role")
    out: dict[str, Role] = {}
    for label, role in raw.items():
        try:
            out[normalise_label(str(label))] = Role(str(role).lower())
        except ValueError:
            raise ValidationError(
                f"{path}: label {label!r} has role {role!r}; use therapist, client or other"
            ) from None
    return out
