"""The SQL unit of work: one connection, one transaction, the stores bound to it."""

from __future__ import annotations

from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.store.cache import StreamCache
from shared.store.idempotency import PostgresIdempotencyStore
from shared.store.postgres import PostgresEventStore


class SqlUnitOfWork:
    """Subclasses bind their own repositories in `bind()`; nothing is written unless committed."""

    events: PostgresEventStore
    idempotency: PostgresIdempotencyStore

    def __init__(
        self,
        engine: AsyncEngine,
        registry: EventRegistry,
        clock: Clock,
        cache: StreamCache | None = None,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._clock = clock
        self._cache = cache
        self._conn: AsyncConnection | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        self._committed = False
        self.events = PostgresEventStore(self._conn, self._registry, self._clock, self._cache)
        self.idempotency = PostgresIdempotencyStore(self._conn)
        self.bind(self._conn)
        return self

    def bind(self, conn: AsyncConnection) -> None:
        """Hook for service repositories that share the transaction."""

    async def commit(self) -> None:
        assert self._conn is not None
        await self._conn.commit()
        self._committed = True
        self.events.committed()

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if not self._committed:
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None
