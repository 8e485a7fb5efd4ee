"""The outbox side of the events table: what the relay may send next, and rows it parked.

A row the relay cannot publish (unknown event type or version, refused by the broker as too
large) is parked with its error. Later rows of the same partition key are held back behind it
so its stream is never reordered; rows of other keys flow on. `sightline outbox replay`
releases a parked row after the fix or upgrade, and it is sent in its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.store import driver as raw
from shared.store.schema import OUTBOX_CHANNEL

# Candidates in order, skipping parked rows and every later row of a parked row's key; the
# running byte total bounds the batch (the first row always goes, however large).
PENDING = (
    "SELECT global_id, event_id, stream_id, stream_type, version, event_name, event_version,"
    " body, metadata, partition_key, occurred_at, recorded_at, candidates FROM ("
    " SELECT c.*, sum(octet_length(c.body) + octet_length(c.metadata::text))"
    "  OVER (ORDER BY c.global_id) AS running, row_number() OVER (ORDER BY c.global_id) AS n,"
    "  count(*) OVER () AS candidates"
    " FROM (SELECT global_id, event_id, stream_id, stream_type, version, event_name,"
    "  event_version, payload::text AS body, metadata::text AS metadata, partition_key,"
    "  occurred_at, recorded_at"
    "  FROM events e WHERE published_at IS NULL AND parked_at IS NULL AND NOT EXISTS ("
    "   SELECT 1 FROM events p WHERE p.parked_at IS NOT NULL AND p.published_at IS NULL"
    "   AND p.partition_key = e.partition_key AND p.global_id < e.global_id)"
    "  ORDER BY global_id LIMIT :limit) c) batch"
    " WHERE n = 1 OR running <= :max_bytes ORDER BY global_id"
)
PARK = text(
    "UPDATE events SET parked_at = now(), park_error = :error"
    " WHERE global_id = :id AND published_at IS NULL"
)
PARKED_COLUMNS = (
    "global_id, event_id::text AS event_id, stream_id, version, event_name, event_version,"
    " partition_key, parked_at, park_error"
)


@dataclass(frozen=True)
class ParkedEvent:
    global_id: int
    event_id: str
    stream_id: str
    version: int
    event_name: str
    event_version: int
    partition_key: str
    parked_at: datetime
    park_error: str


class PendingRow(NamedTuple):
    global_id: int
    event_id: Any
    stream_id: str
    stream_type: str
    version: int
    event_name: str
    event_version: int
    body: str
    metadata: str
    partition_key: str
    occurred_at: datetime
    recorded_at: datetime


async def pending(
    conn: asyncpg.Connection, limit: int, max_bytes: int
) -> tuple[list[PendingRow], bool]:
    """The next rows to publish: at most `limit` rows and `max_bytes` of payload (but >= 1 row),
    and whether more may be waiting behind them (False: these were all there was).

    One statement on the relay's own connection, outside any transaction."""
    records = await raw.fetch(conn, PENDING, {"limit": limit, "max_bytes": max_bytes})
    rows = [PendingRow(*r[:-1]) for r in records]
    more = bool(records) and (
        records[0]["candidates"] >= limit or len(rows) < records[0]["candidates"]
    )
    return rows, more


async def park(engine: AsyncEngine, global_id: int, error: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(PARK, {"id": global_id, "error": error[:4000]})


def _where(ids: Sequence[int], event_name: str | None) -> tuple[str, dict[str, Any]]:
    clauses = ["parked_at IS NOT NULL", "published_at IS NULL"]
    params: dict[str, Any] = {}
    if ids:
        clauses.append("global_id = ANY(:ids)")
        params["ids"] = list(ids)
    if event_name:
        clauses.append("event_name = :name")
        params["name"] = event_name
    return " AND ".join(clauses), params


async def list_parked(
    engine: AsyncEngine, ids: Sequence[int] = (), event_name: str | None = None
) -> list[ParkedEvent]:
    where, params = _where(ids, event_name)
    sql = f"SELECT {PARKED_COLUMNS} FROM events WHERE {where} ORDER BY global_id"  # noqa: S608
    async with engine.connect() as conn:
        return [ParkedEvent(**r._asdict()) for r in await conn.execute(text(sql), params)]


async def release(
    engine: AsyncEngine, ids: Sequence[int] = (), event_name: str | None = None
) -> int:
    """Unpark rows so the relay tries them again (after the fix or upgrade that lets them pass)."""
    where, params = _where(ids, event_name)
    sql = f"UPDATE events SET parked_at = NULL, park_error = NULL WHERE {where}"  # noqa: S608
    async with engine.begin() as conn:
        result = await conn.execute(text(sql), params)
        await conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
    return int(result.rowcount or 0)
