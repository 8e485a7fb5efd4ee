"""Statements sent straight to asyncpg on the hot paths, written with SQLAlchemy's `:name` binds.

SQLAlchemy's statement handling (compiling, its result objects, the greenlet hop) costs more
CPU than the round trip on a short command; the same SQL text runs here on the connection's
asyncpg driver, inside the unit of work's transaction, with its binds made positional once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

# the bind syntax of sqlalchemy.text(): a colon and a name, not a `::cast`
_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?!:)")


@functools.lru_cache(maxsize=256)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with `$1, $2, …` for its `:name` binds, and the names in that order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _BIND.sub(number, sql), tuple(names)


def _args(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    query, names = positional(sql)
    return query, [params[name] for name in names]


async def fetch(driver: Any, sql: str, params: Mapping[str, Any]) -> list[Any]:
    query, args = _args(sql, params)
    rows: list[Any] = await driver.fetch(query, *args)
    return rows


async def fetchval(driver: Any, sql: str, params: Mapping[str, Any]) -> Any:
    query, args = _args(sql, params)
    return await driver.fetchval(query, *args)


async def execute(driver: Any, sql: str, params: Mapping[str, Any]) -> str:
    query, args = _args(sql, params)
    status: str = await driver.execute(query, *args)
    return status
