"""Connections kept between units of work (`shared.store.kept`), on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.clock import SystemClock
from shared.db import make_engine
from shared.events import registry
from shared.store import kept
from shared.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration


class Unit(SqlUnitOfWork):
    """A unit of work that lets the test send a statement through SQLAlchemy too."""

    conn: AsyncConnection

    def bind(self, conn: AsyncConnection) -> None:
        self.conn = conn


class Engines:
    def __init__(self, database_url: str, pool_size: int, limit: int) -> None:
        self.engine: AsyncEngine = make_engine(database_url, pool_size=pool_size, max_overflow=0)
        self.killer = make_engine(database_url, pool_size=1, max_overflow=0)
        self.kept = kept.keep(self.engine, limit)
        self.checkouts = 0
        event.listen(self.engine.sync_engine.pool, "checkout", self._counted)

    def _counted(self, *_: Any) -> None:
        self.checkouts += 1

    def unit(self, *, deferred: bool = True) -> Unit:
        return Unit(self.engine, registry, SystemClock(), deferred=deferred)

    def checked_out(self) -> int:
        return int(self.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]

    async def pid(self, *, deferred: bool = True) -> int:
        async with self.unit(deferred=deferred) as u:
            return int(await u.driver.fetchval("SELECT pg_backend_pid()"))

    async def terminate(self, pid: int) -> None:
        async with self.killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        await asyncio.sleep(0.2)  # the connection's socket sees the end

    async def dispose(self) -> None:
        await kept.release(self.engine)
        await self.engine.dispose()
        await self.killer.dispose()


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[Engines]:
    e = Engines(database_url, pool_size=4, limit=2)
    yield e
    await e.dispose()


@pytest.mark.parametrize("deferred", [True, False], ids=["deferred", "begun"])
async def test_a_clean_unit_hands_its_connection_to_the_next(
    engines: Engines, deferred: bool
) -> None:
    first = await engines.pid(deferred=deferred)
    assert len(engines.kept) == 1
    assert engines.checked_out() == 1  # kept, not checked in
    checkouts = engines.checkouts
    assert await engines.pid(deferred=deferred) == first
    assert engines.checkouts == checkouts  # no checkout from the pool the second time


async def test_a_unit_that_failed_gives_its_connection_back(engines: Engines) -> None:
    async def refused() -> None:
        async with engines.unit() as u:
            await u.driver.fetchval("SELECT 1")
            raise RuntimeError("the command refused")

    with pytest.raises(RuntimeError):
        await refused()
    assert len(engines.kept) == 0
    assert engines.checked_out() == 0


async def test_a_unit_left_uncommitted_is_rolled_back_before_the_next_gets_it(
    engines: Engines,
) -> None:
    async with engines.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE kept_probe (x int)"))
    async with engines.unit(deferred=False) as u:
        pid = await u.driver.fetchval("SELECT pg_backend_pid()")
        await u.driver.execute("INSERT INTO kept_probe VALUES (1)")
        # no commit: rolled back on the way out
    assert len(engines.kept) == 1
    async with engines.unit() as u:
        assert await u.driver.fetchval("SELECT pg_backend_pid()") == pid
        assert not u.driver.is_in_transaction()
        assert await u.driver.fetchval("SELECT count(*) FROM kept_probe") == 0


async def test_a_unit_that_used_sqlalchemy_statements_gives_its_connection_back(
    engines: Engines,
) -> None:
    async with engines.unit() as u:
        assert (await u.conn.execute(text("SELECT 1"))).scalar() == 1
    assert len(engines.kept) == 0
    assert engines.checked_out() == 0


async def test_a_unit_waiting_on_the_pool_gets_the_next_connection_back(
    database_url: str,
) -> None:
    e = Engines(database_url, pool_size=2, limit=2)
    try:
        a, b = e.unit(), e.unit()
        await a.__aenter__()
        await b.__aenter__()
        waiting = asyncio.create_task(e.pid())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # the pool's two connections are both in use
        await a.__aexit__(None, None, None)  # nothing in the pool: it goes back, not kept
        assert len(e.kept) == 0
        await asyncio.wait_for(waiting, 5)
        await b.__aexit__(None, None, None)
    finally:
        await e.dispose()


async def test_no_more_than_the_limit_are_kept(engines: Engines) -> None:
    units = [engines.unit() for _ in range(3)]
    for u in units:
        await u.__aenter__()
    for u in units:
        await u.__aexit__(None, None, None)
    assert len(engines.kept) == 2
    assert engines.checked_out() == 2


async def test_a_kept_connection_whose_server_end_went_away_is_replaced(
    engines: Engines,
) -> None:
    pid = await engines.pid()
    assert len(engines.kept) == 1
    await engines.terminate(pid)  # as a database restart ends every session
    assert await engines.pid() != pid
    assert len(engines.kept) == 1  # the fresh one, kept in turn
    assert engines.checked_out() == 1  # the dead one is not counted as out any more


async def test_a_connection_is_kept_no_longer_than_its_age_limit(engines: Engines) -> None:
    engines.kept.max_age_s = 0.1
    pid = await engines.pid()
    await asyncio.sleep(0.2)
    checkouts = engines.checkouts
    assert await engines.pid() == pid  # back to the pool, and out of it again
    assert engines.checkouts == checkouts + 1


async def test_release_closes_the_kept_connections(engines: Engines) -> None:
    await engines.pid()
    assert engines.checked_out() == 1
    await kept.release(engines.engine)
    assert engines.checked_out() == 0
    assert kept.kept_for(engines.engine) is None
    await engines.pid()  # units go on without keeping
    assert engines.checked_out() == 0
