"""A per-account transaction lock, so projections of one account never interleave."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Two consumers (e.g. an activity on pipeline.events and the account's registration on
# collab.events) may touch one account at once; without the lock one could read before the
# other commits and neither would see the other's row (a missed backfill or pending check).
LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7341))")


async def lock_account(conn: AsyncConnection, account_id: str) -> None:
    await conn.execute(LOCK, {"k": f"account:{account_id}"})


# one statement for a consumer's batch: unnest hands the keys to the lock in array order
LOCK_MANY = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 7341)))"
    " FROM unnest(CAST(:keys AS text[])) AS k"
)


async def lock_accounts(conn: AsyncConnection, account_ids: Iterable[str]) -> None:
    """Lock every account a batch touches, up front and in one order (sorted), so that two
    consumers' batches over the same accounts wait for each other instead of deadlocking."""
    keys = [f"account:{a}" for a in sorted(set(account_ids))]
    if keys:
        await conn.execute(LOCK_MANY, {"keys": keys})
