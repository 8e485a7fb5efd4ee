"""One lock between publishing a playbook and moving deals between its stages."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# transaction-scoped: stage moves share it among themselves, a publication takes it alone
SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtextextended('playbook', 8117))")
EXCLUSIVE = text("SELECT pg_advisory_xact_lock(hashtextextended('playbook', 8117))")
VERSION = text("SELECT coalesce(max(version), 0) FROM events WHERE stream_id = :s")


class PlaybookLock:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def for_stage_move(self, stream_id: str) -> int:
        """Hold off publications until this transaction ends; the version in force now."""
        await self._conn.execute(SHARED)
        return int((await self._conn.execute(VERSION, {"s": stream_id})).scalar() or 0)

    async def for_publication(self) -> None:
        """Wait for stage moves under way and keep new ones out until this transaction ends."""
        await self._conn.execute(EXCLUSIVE)
