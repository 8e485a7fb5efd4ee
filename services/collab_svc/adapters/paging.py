"""Keyset pagination: opaque cursors on a sequence number, or (business time, sequence)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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
