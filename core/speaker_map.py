"""User-supplied speaker label → role maps (``--speaker-map FILE``)."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import ValidationError
from core.models import Role


def normalise_label(label: str) -> str:
    """``Dr. Lee`` and ``DR LEE`` are the same speaker label."""
    return " ".join(label.replace(".", " ").upper().split())


def load_speaker_map(path: Path) -> dict[str, Role]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: not valid JSON ({exc})") from exc
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
