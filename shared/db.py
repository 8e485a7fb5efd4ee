"""Database engine and Alembic migrations, built in the lifespan — never at import."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.messaging.wake import AFTER_COMMIT, WAKE_SETTING

#: one advisory lock id for "migrations running", so replicas starting together take turns
MIGRATION_LOCK = 7_341_001


def make_engine(
    url: str,
    pool_size: int = 10,
    *,
    max_overflow: int | None = None,
    wake_after_commit: bool = False,
) -> AsyncEngine:
    """An engine whose pool holds `pool_size` connections, and `max_overflow` more (as many
    by default) that are closed as soon as they are returned.

    A service keeps every connection it may need in the pool (`max_overflow=0`): under load
    an overflow connection is opened and closed again for nearly every request, and a new
    PostgreSQL backend costs both sides far more than the request itself. With
    `wake_after_commit` its sessions leave waking the relay to the process
    (`shared.messaging.wake`).
    """
    settings = {"application_name": "sightline"}
    if wake_after_commit:
        settings[WAKE_SETTING] = AFTER_COMMIT
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        # no pre-ping round trips on the hot path: a connection whose socket is closed is
        # replaced at checkout (below), one that fails in use is invalidated then
        pool_recycle=1800,
        connect_args={"server_settings": settings},
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection whose server end went away (a database restart) is replaced before
    it is handed out: the pool reconnects it. Statements sent straight to asyncpg (the units of
    work's hot path, outside any transaction in a deferred unit) do not pass through the
    disconnect handling of SQLAlchemy's, so without this a dead connection would go back to
    the pool after each failure and fail the next request too."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the connection was closed while it sat in the pool")


def alembic_config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def _upgrade(sync_conn: Connection, script_location: Path) -> None:
    cfg = alembic_config(script_location)
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine, script_location: Path) -> None:
    """Bring the service's database to the newest revision (serialised across replicas)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        try:
            await conn.run_sync(_upgrade, script_location)
            await conn.commit()
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            await conn.commit()


def run_env(context: Any) -> None:
    """Body of every service's `migrations/env.py`: reuse a given connection or open one."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
        return
    import os

    url = os.environ["DATABASE_URL"]

    async def run() -> None:
        engine = make_engine(url, pool_size=1)
        async with engine.connect() as conn:
            await conn.run_sync(_configure_and_run, context)
            await conn.commit()
        await engine.dispose()

    asyncio.run(run())


def _configure_and_run(sync_conn: Connection, context: Any) -> None:
    context.configure(connection=sync_conn, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
