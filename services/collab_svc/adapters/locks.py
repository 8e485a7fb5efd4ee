"""A per-account transaction lock, so projections of one account never interleave."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Two consumers (e.g. an activity on pipeline.events and the account's registration on
# collab.events) may touch one account at once; without the lock one could read before the
# other commits and neither would see the other's row (a missed backfill or pending check).
LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7341))")


async def lock_account(conn: AsyncConnection, account_id: str) -> None:
    await conn.execute(LOCK, {"k": f"account:{account_id}"})
