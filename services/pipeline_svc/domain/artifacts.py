"""Artifact field checking and fill rate: filled fields / all fields of the kind."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from services.pipeline_svc.domain.errors import InvalidArtifactError
from shared.contracts.playbook import ArtifactKind, FieldSpec

MAX_TEXT = 20_000
MAX_ITEMS = 200


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list):
        return any(_filled(v) for v in value)
    return True


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """Return the value in its canonical JSON form or raise naming the field."""
    if value is None:
        return None
    ok = True
    if spec.type == "text":
        ok = isinstance(value, str) and len(value) <= MAX_TEXT
    elif spec.type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif spec.type == "boolean":
        ok = isinstance(value, bool)
    elif spec.type == "list":
        ok = (
            isinstance(value, list)
            and len(value) <= MAX_ITEMS
            and all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value)
        )
    elif spec.type == "date":
        try:
            value = date.fromisoformat(value).isoformat() if isinstance(value, str) else None
        except ValueError:
            value = None
        ok = value is not None
    if not ok:
        raise InvalidArtifactError(
            f"field '{spec.name}' must be of type {spec.type}", field=spec.name
        )
    return value


def check_fields(kind: ArtifactKind, fields: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Validate a submission against its kind; returns the cleaned fields and the fill rate."""
    known = {f.name: f for f in kind.fields}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise InvalidArtifactError(
            f"unknown field(s) for {kind.key}: {', '.join(unknown)}", fields=unknown
        )
    cleaned = {name: _coerce(known[name], value) for name, value in fields.items()}
    missing = [f.name for f in kind.fields if f.required and not _filled(cleaned.get(f.name))]
    if missing:
        raise InvalidArtifactError(
            f"required field(s) missing for {kind.key}: {', '.join(missing)}", fields=missing
        )
    filled = sum(1 for f in kind.fields if _filled(cleaned.get(f.name)))
    return cleaned, round(filled / len(kind.fields), 4)
