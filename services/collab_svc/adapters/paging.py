"""Keyset pagination over the read models (cursors from shared.store.cursors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.store.cursors import decode_seq, encode_seq


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


@dataclass(frozen=True)
class Page:
    """Filters (column → value, fixed column names only) and a cursor on `seq`."""

    filters: dict[str, str | None]
    cursor: str | None = None
    limit: int = 50


def row_dict(row: Any) -> dict[str, Any]:
    out = {k: v for k, v in row._mapping.items() if k != "seq"}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


async def keyset_page(
    conn: AsyncConnection, table: str, columns: str, page: Page
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `table` in `seq` order; `table`, `columns` and filter names are ours."""
    where = ["seq > :after"]
    params: dict[str, Any] = {"after": decode_seq(page.cursor) if page.cursor else 0}
    for name, value in page.filters.items():
        if value is not None:
            where.append(f"{name} = :{name}")
            params[name] = value
    params["limit"] = page.limit + 1
    sql = f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} ORDER BY seq LIMIT :limit"  # noqa: S608
    rows = list(await conn.execute(text(sql), params))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    nxt = encode_seq(rows[-1].seq) if more and rows else None
    return [row_dict(r) for r in rows], nxt
