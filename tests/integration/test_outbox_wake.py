"""Waking the relay after commit (decision 0043), and a pool that opens no connection per request.

Real PostgreSQL (and the real broker for the relay): a LISTEN connection counts the NOTIFYs
each kind of session sends; the relay, its poll set far beyond the test's patience, publishes
only if it was woken.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.pipeline_svc.bootstrap import MIGRATIONS
from shared.clock import SystemClock
from shared.db import make_engine, migrate
from shared.events.envelope import Metadata
from shared.events.registry import registry
from shared.messaging import wake
from shared.messaging.relay import OutboxRelay, asyncpg_dsn
from shared.messaging.wake import OutboxWaker
from shared.store.schema import OUTBOX_CHANNEL
from shared.store.uow import SqlUnitOfWork
from tests.integration.test_relay import activity, append_stream, unpublished
from tests.support import eventually, migrated_engine, settings_for

pytestmark = pytest.mark.integration

#: long enough that only a NOTIFY can explain a prompt publication
NO_POLL_S = 120.0
#: time for a NOTIFY that was sent to arrive; one that was not sent never does
SETTLE_S = 0.5


class Listener:
    """Counts NOTIFYs on the outbox channel."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self.count = 0
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Listener:
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(OUTBOX_CHANNEL, self._heard)
        return self

    def _heard(self, *_: Any) -> None:
        self.count += 1

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        await self._conn.close()


async def deferring_engine(database_url: str) -> AsyncEngine:
    engine = make_engine(database_url, pool_size=5, wake_after_commit=True)
    await migrate(engine, MIGRATIONS)
    return engine


async def test_a_session_that_defers_sends_no_notify_with_its_commit_and_others_do(
    database_url: str,
) -> None:
    plain = await migrated_engine(database_url)
    deferring = make_engine(database_url, pool_size=2, wake_after_commit=True)
    try:
        async with Listener(asyncpg_dsn(database_url)) as heard:
            await append_stream(deferring, "d", "acct-d", 3)  # nobody pokes for this engine
            await asyncio.sleep(SETTLE_S)
            assert heard.count == 0, "the trigger leaves a deferring session alone"
            await append_stream(plain, "p", "acct-p", 1)
            await eventually(lambda: heard.count == 1, timeout_s=5)
    finally:
        await deferring.dispose()
        await plain.dispose()


async def test_commits_that_appended_are_announced_once_per_linger(database_url: str) -> None:
    engine = await deferring_engine(database_url)
    waker = OutboxWaker(asyncpg_dsn(database_url), linger_s=1.0)
    wake.attach(engine, waker)
    try:
        async with Listener(asyncpg_dsn(database_url)) as heard:
            await append_stream(engine, "w", "acct-w", 1)  # after a quiet spell: at once
            await eventually(lambda: heard.count == 1, timeout_s=0.9, every_s=0.01)
            await append_stream(engine, "w", "acct-w", 4, start=1)  # within the linger
            assert heard.count == 1
            await eventually(lambda: heard.count == 2, timeout_s=5)
            await asyncio.sleep(1.0 + SETTLE_S)
            assert heard.count == 2, "four commits inside the linger: one NOTIFY after it"
            async with SqlUnitOfWork(engine, registry, SystemClock()) as uow:
                await uow.events.load("opp-w")
                await uow.commit()
            await asyncio.sleep(SETTLE_S)
            assert heard.count == 2, "a unit that appended nothing wakes nobody"
            assert waker.sent == 2 and waker.failed == 0
    finally:
        wake.detach(engine)
        await waker.aclose()
        await engine.dispose()


async def test_the_waker_reconnects_after_its_connection_is_killed(database_url: str) -> None:
    dsn = asyncpg_dsn(database_url)
    waker = OutboxWaker(dsn, linger_s=0.05)
    admin = await asyncpg.connect(dsn)
    try:
        async with Listener(dsn) as heard:
            waker.poke()
            await eventually(lambda: heard.count == 1, timeout_s=5)
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'sightline-wake' AND datname = current_database()"
            )
            assert killed == 1
            await asyncio.sleep(0.2)
            waker.poke()  # may fail once (then left to the relay's poll), never for good
            await asyncio.sleep(0.2)
            waker.poke()
            await eventually(lambda: heard.count >= 2, timeout_s=5)
    finally:
        await waker.aclose()
        await admin.close()


async def test_a_woken_relay_publishes_a_deferred_commit_long_before_its_poll(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine = await deferring_engine(database_url)
    settings = settings_for(database_url, kafka_bootstrap, relay_poll_interval_s=NO_POLL_S)
    waker = OutboxWaker(asyncpg_dsn(database_url), settings.relay_linger_ms / 1000)
    relay = OutboxRelay(engine, settings, registry, SystemClock())
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: relay.is_leader, timeout_s=20)
        await asyncio.sleep(SETTLE_S)  # the relay's first drain found nothing; it waits now
        # unwoken, a deferred commit waits for the poll
        await append_stream(engine, "quiet", "acct-q", 1)
        await asyncio.sleep(2.0)
        assert await unpublished(engine) == 1
        # woken after commit, the relay publishes at once (and the earlier one with it)
        wake.attach(engine, waker)
        started = time.monotonic()
        async with SqlUnitOfWork(engine, registry, SystemClock()) as uow:
            event = activity("woken", "a", 0)
            await uow.events.append("opp-woken", "opportunity", 0, [event], Metadata())
            await uow.commit()
        await eventually(lambda: _none_left(engine), timeout_s=10, every_s=0.05)
        assert time.monotonic() - started < NO_POLL_S / 10
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        wake.detach(engine)
        await waker.aclose()
        await engine.dispose()


async def _none_left(engine: AsyncEngine) -> bool:
    return await unpublished(engine) == 0


async def _sessions(conn: asyncpg.Connection) -> int:
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return int(
        await conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
    )


async def _burst(engine: AsyncEngine, width: int) -> None:
    async def one() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.05)"))

    await asyncio.gather(*(one() for _ in range(width)))


@pytest.mark.parametrize(("overflow", "reopens"), [(0, False), (4, True)])
async def test_a_pool_without_overflow_opens_no_connection_per_burst(
    database_url: str, overflow: int, reopens: bool
) -> None:
    """The services' pools (`max_overflow=0`) keep what they opened; an overflow pool opens
    and closes connections again at every burst beyond its size."""
    engine = make_engine(database_url, pool_size=4 if overflow else 8, max_overflow=overflow)
    stats = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await _burst(engine, 8)  # warms the pool
        await asyncio.sleep(SETTLE_S)  # backends report their sessions when idle or gone
        before = await _sessions(stats)
        for _ in range(3):
            await _burst(engine, 8)
        await asyncio.sleep(SETTLE_S)
        opened = await _sessions(stats) - before
    finally:
        await stats.close()
        await engine.dispose()
    assert (opened > 0) is reopens, f"{opened} sessions opened after the warm-up"
