"""Opaque keyset cursors: a sequence number, or (business time, sequence)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from shared.errors import ValidationFailedError


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(data, dict):
            raise TypeError
        return data
    except (ValueError, TypeError):
        raise ValidationFailedError("cursor is not valid", field="cursor") from None


def encode_seq(seq: int) -> str:
    return _encode({"s": seq})


def decode_seq(cursor: str) -> int:
    seq = _decode(cursor).get("s")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValidationFailedError("cursor is not valid", field="cursor")
    return seq


def encode_at(at: datetime, seq: int) -> str:
    return _encode({"t": at.isoformat(), "s": seq})


def decode_at(cursor: str) -> tuple[datetime, int]:
    data = _decode(cursor)
    seq, at = data.get("s"), data.get("t")
    try:
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(at, str):
            raise TypeError
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise TypeError
    except (ValueError, TypeError):
        raise ValidationFailedError("cursor is not valid", field="cursor") from None
    return when, seq
