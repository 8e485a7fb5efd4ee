"""One check on every request's text: nothing PostgreSQL cannot store gets past the edge.

PostgreSQL refuses NUL (U+0000) in `text` and `jsonb`, lone UTF-16 surrogates cannot be
encoded as UTF-8, and `jsonb` has no NaN or Infinity. A value with any of them is 422 naming
its field, before a handler sees it (and so before anything is written).
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import Request

from shared.errors import ValidationFailedError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _bad_string(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def _refuse(field: str, what: str) -> ValidationFailedError:
    return ValidationFailedError(
        f"{field or 'body'} {what}; PostgreSQL cannot store it",
        field=field or "body",
    )


def find_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field path, what is wrong) of the first value the database cannot store, else None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            if _bad_string(item):
                return at, "contains a NUL character or an unpaired surrogate"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return at, "is not a finite number"
        elif isinstance(item, dict):
            for key, sub in item.items():
                where = f"{at}.{key}" if at else str(key)
                if isinstance(key, str) and _bad_string(key):
                    return at or "body", "has a key with a NUL character or an unpaired surrogate"
                stack.append((sub, where))
        elif isinstance(item, list):
            stack.extend((sub, f"{at}.{i}" if at else str(i)) for i, sub in enumerate(item))
    return None


async def reject_unstorable(request: Request) -> None:
    """App-wide dependency: query parameters and the JSON body (parsed once, cached)."""
    query = request.query_params.multi_items() if request.scope.get("query_string") else ()
    for key, value in query:
        if _bad_string(key) or _bad_string(value):
            raise _refuse(key if not _bad_string(key) else "query", "contains a NUL character")
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()
    if not body:
        return
    try:
        parsed = await request.json()
    except ValueError:
        return  # FastAPI reports the malformed body itself
    found = find_unstorable(parsed)
    if found is not None:
        raise _refuse(*found)
