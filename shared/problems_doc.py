"""OpenAPI documentation of the problem responses every command may return."""

from __future__ import annotations

from typing import Any

_PROBLEM = {
    "application/problem+json": {
        "schema": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
            },
            "required": ["type", "title", "status", "detail"],
        }
    }
}

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "The body cannot be read: it must be JSON encoded as UTF-8 "
        "(problem type `https://sightline.dev/problems/unreadable-body`)",
        "content": _PROBLEM,
    },
    401: {"description": "Missing, expired or invalid token", "content": _PROBLEM},
    403: {"description": "Your role or region does not allow this", "content": _PROBLEM},
    404: {"description": "Unknown id", "content": _PROBLEM},
    409: {
        "description": "Stage gate refused (lists each missing item) or a version clash",
        "content": _PROBLEM,
    },
    412: {"description": "If-Match does not match the current version", "content": _PROBLEM},
    413: {"description": "Body too large", "content": _PROBLEM},
    422: {
        "description": "Invalid input (names the field): a malformed value, a NUL character, a "
        "date outside 1990-01-01..2100-01-01",
        "content": _PROBLEM,
    },
}
