"""The SQL unit of work: one connection, one transaction, the stores bound to it.

The transaction is begun on the driver (asyncpg) rather than by SQLAlchemy, whose asyncpg
adapter would begin it lazily at its own first statement: statements the hot paths send
straight to asyncpg (`driver`) then share it with those sent through SQLAlchemy. The
connection is set to AUTOCOMMIT for SQLAlchemy, so that it never begins or ends a transaction
of its own on it; the pool restores the isolation level when the connection goes back.

A deferred unit (`deferred=True`) begins its transaction only when asked (`begin()`): until
then each statement commits on its own. It is for a command whose only write is one statement
that checks, under its own locks, everything its earlier reads decided on (the pipeline's guarded
append); anything else that writes begins first.
"""

from __future__ import annotations

import weakref
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.store.cache import StreamCache
from shared.store.idempotency import PostgresIdempotencyStore
from shared.store.kept import kept_for
from shared.store.postgres import PostgresEventStore

_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """`engine` with its connections set to AUTOCOMMIT at checkout (one proxy per engine, on
    the same pool): no separate call per unit of work to set it."""
    found = _AUTOCOMMIT.get(engine)
    if found is None:
        found = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


class SqlUnitOfWork:
    """Subclasses bind their own repositories in `bind()`; nothing is written unless committed."""

    events: PostgresEventStore
    idempotency: PostgresIdempotencyStore
    #: the asyncpg connection under `_conn`, inside this unit's transaction
    driver: Any

    def __init__(
        self,
        engine: AsyncEngine,
        registry: EventRegistry,
        clock: Clock,
        cache: StreamCache | None = None,
        *,
        deferred: bool = False,
    ) -> None:
        self._engine = engine
        self._deferred = deferred
        self._registry = registry
        self._clock = clock
        self._cache = cache
        self._conn: AsyncConnection | None = None
        self._tx: Any = None
        self._committed = False

    async def __aenter__(self) -> Self:
        kept = kept_for(self._engine)
        conn = None
        if kept is not None:
            conn, dead, aged = kept.take()
            for gone in dead:
                await gone.invalidate()
            for other in (*dead, *aged):
                await other.close()
        if conn is None:
            conn = await _autocommit(self._engine).connect()
            if kept is not None:
                kept.checked_out(conn)
        self._conn, self._tx, self._committed = conn, None, False
        try:
            # a connection just checked out holds its DBAPI connection: no I/O to reach it
            self.driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
            if not self._deferred:
                await self.begin()
        except BaseException:
            self._conn = None
            await conn.invalidate()
            await conn.close()
            raise
        self.events = PostgresEventStore(
            conn, self._registry, self._clock, self._cache, driver=self.driver
        )
        self.idempotency = PostgresIdempotencyStore(conn)
        self.bind(conn)
        return self

    def bind(self, conn: AsyncConnection) -> None:
        """Hook for service repositories that share the transaction."""

    async def begin(self) -> None:
        """Begin the transaction of a deferred unit (nothing if it has begun): what follows is
        kept or dropped together."""
        assert self._conn is not None, "the unit of work is not entered"
        if self._tx is None:
            tx = self.driver.transaction()
            await tx.start()
            self._tx = tx

    async def commit(self) -> None:
        assert self._conn is not None, "the unit of work is not entered"
        if self._tx is not None:
            await self._tx.commit()
        self._committed = True
        self.events.committed()

    async def __aexit__(self, *exc: object) -> None:
        conn, tx = self._conn, self._tx
        assert conn is not None
        self._conn = self._tx = None
        # a connection is handed to the next unit only after a unit that raised nothing
        clean = exc[0] is None
        try:
            if tx is not None and not self._committed:
                await tx.rollback()
        except BaseException as exc:
            # a failed commit or a broken connection: nothing of the unit was kept, and the
            # pool must not hand the connection out again, whatever state it is in
            clean = False
            await conn.invalidate()
            if not isinstance(exc, Exception):
                raise
        finally:
            kept = kept_for(self._engine) if clean else None
            if kept is None or not kept.offer(conn):
                await conn.close()
