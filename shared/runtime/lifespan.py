"""The lifespan every service shares: engine, migrations, readiness checks, relay and workers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import Clock
from shared.db import make_engine, migrate
from shared.events.registry import registry
from shared.http.app import cancel_all, tcp_reachable
from shared.messaging import wake
from shared.messaging.consumer import stalled_consumers
from shared.messaging.deadletters import open_counts
from shared.messaging.relay import OutboxRelay, asyncpg_dsn
from shared.messaging.wake import OutboxWaker
from shared.observability import DEAD_LETTERS_PARKED, OUTBOX_PARKED
from shared.settings import Settings
from shared.store import kept

log = logging.getLogger(__name__)

#: called once the database is migrated; returns the background workers (consumers, schedulers)
Setup = Callable[[FastAPI, AsyncEngine], Awaitable[list[Coroutine[Any, Any, None]]]]


def service_lifespan(
    settings: Settings, migrations: Path, clock: Clock, setup: Setup
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # an api process wakes the relay after its commits; where workers run beside the
        # routes, their writers leave it to the trigger on `events` (decision 0043)
        deferred = settings.mode == "api"
        engine = make_engine(
            settings.database_url or "",
            settings.db_pool_size,
            max_overflow=0,
            wake_after_commit=deferred,
        )
        keep_limit = settings.db_keep_connections
        if keep_limit is None:
            keep_limit = settings.db_pool_size // 2
        if keep_limit > 0:
            kept.keep(engine, keep_limit)
        waker = None
        if deferred:
            waker = OutboxWaker(
                asyncpg_dsn(settings.database_url or ""), settings.relay_linger_ms / 1000
            )
            wake.attach(engine, waker)
        await migrate(engine, migrations)
        workers = await setup(app, engine)

        async def database() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def broker() -> None:
            await tcp_reachable(settings.kafka_bootstrap_servers or "")

        async def consumers() -> None:
            stalled = stalled_consumers()
            if stalled:
                raise RuntimeError(f"consumers holding messages back: {stalled}")

        app.state.readiness = {"database": database, "broker": broker, "consumers": consumers}
        tasks: list[asyncio.Task[Any]] = []
        if settings.mode in ("worker", "all"):
            relay = OutboxRelay(engine, settings, registry, clock)
            app.state.relay = relay
            tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
            tasks.extend(asyncio.create_task(w) for w in workers)
            tasks.append(
                asyncio.create_task(expire_idempotency_keys(engine, settings.idempotency_ttl_hours))
            )
            tasks.append(asyncio.create_task(measure_parked(engine, settings.service)))
        else:
            for w in workers:
                w.close()  # api-only replicas leave background work to the workers
        try:
            yield
        finally:
            await cancel_all(tasks)
            if waker is not None:
                wake.detach(engine)
                await waker.aclose()
            await kept.release(engine)
            await engine.dispose()

    return lifespan


async def no_workers(_app: FastAPI, _engine: AsyncEngine) -> list[Coroutine[Any, Any, None]]:
    """Setup of a service that so far only publishes (and has nothing to consume)."""
    return []


async def expire_idempotency_keys(
    engine: AsyncEngine, ttl_hours: float, every_s: float = 600
) -> None:
    """Idempotency keys answer retries, not history: forget them after the TTL."""
    while True:
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "DELETE FROM idempotency_keys"
                        " WHERE created_at < now() - make_interval(secs => :s)"
                    ),
                    {"s": ttl_hours * 3600},
                )
        except Exception as exc:  # the database may be away: try again next round
            log.warning("idempotency key expiry failed: %s", exc)
        await asyncio.sleep(every_s)


async def measure_parked(engine: AsyncEngine, service: str, every_s: float = 5.0) -> None:
    """Keep the gauges of parked dead letters and parked outbox rows current."""
    while True:
        try:
            letters, events = await open_counts(engine)
            DEAD_LETTERS_PARKED.labels(service).set(letters)
            OUTBOX_PARKED.labels(service).set(events)
        except Exception as exc:  # the database may be away: measure again next round
            log.warning("counting parked messages failed: %s", exc)
        await asyncio.sleep(every_s)
