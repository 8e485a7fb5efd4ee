"""A request header read as `request.headers.get` reads it, for headers that are often absent.

Starlette's `Headers.get` answers an absent header by raising and catching a `KeyError` inside
`Mapping.get`; a command reads two such headers (`If-Match`, `Idempotency-Key`) on every request.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def header(request: HTTPConnection, name: str) -> str | None:
    """The first value of header `name` (lower case), decoded as Latin-1, or None."""
    key = name.encode("latin-1")
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    for found, value in headers:
        if found == key:
            return value.decode("latin-1")
    return None
