"""PostgreSQL and the broker for a run: the ones named by BENCH_* variables, else embedded ones."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.config import DATABASE_ENV, KAFKA_ENV
from shared.messaging.relay import asyncpg_dsn as asyncpg_dsn
from shared.runtime.embedded import (
    EmbeddedKafka,
    EmbeddedPostgres,
    create_database,
    free_port,
    with_database,
)
from shared.runtime.processes import run_blocking


@dataclass(frozen=True)
class Infrastructure:
    #: SQLAlchemy URL (postgresql+asyncpg://) of the fresh database of this run
    database_url: str
    bootstrap: str
    #: prepended to topic names so a shared broker never mixes runs
    topic_prefix: str
    postgres: str
    kafka: str
    #: the postmaster and the broker when embedded (to attribute CPU to our own servers)
    postgres_pid: int | None = None
    broker_pid: int | None = None

    @property
    def asyncpg_dsn(self) -> str:
        return asyncpg_dsn(self.database_url)

    def topic(self, domain: str) -> str:
        return f"{self.topic_prefix}{domain}.events"


def start_infrastructure(
    stack: ExitStack, workdir: Path, log_dir: Path, log: Callable[[str], None] = print
) -> Infrastructure:
    """Bring up (or connect to) PostgreSQL and Kafka; everything started is undone by `stack`."""
    run_id = uuid.uuid4().hex[:10]
    server_url = os.environ.get(DATABASE_ENV) or None
    pg_kind = "external"
    postgres_pid = broker_pid = None
    if server_url is None:
        postgres = EmbeddedPostgres(workdir / "pg")
        stack.callback(postgres.stop)  # registered first: also reaps a half-started server
        log(f"starting embedded PostgreSQL in {postgres.data_dir}")
        postgres.start()
        server_url, pg_kind = postgres.url, "embedded"
        postgres_pid = _postmaster_pid(postgres.data_dir)
    name = f"bench_{run_id}"
    url = run_blocking(create_database(server_url, name))
    if pg_kind == "embedded":
        url = postgres.url_for(name)
    elif not os.environ.get("BENCH_KEEP_DATABASE"):
        stack.callback(drop_database, server_url, name)

    bootstrap = os.environ.get(KAFKA_ENV) or None
    kafka_kind = "external"
    prefix = f"bench{run_id}." if bootstrap else ""
    if bootstrap is None:
        broker = EmbeddedKafka(free_port(), log_dir=log_dir)
        stack.callback(broker.stop)
        log(f"starting embedded Tansu broker on port {broker.port}")
        broker.start()
        bootstrap, kafka_kind = broker.bootstrap, "embedded"
        broker_pid = broker.pid
    return Infrastructure(
        url,
        bootstrap,
        prefix,
        pg_kind,
        kafka_kind,
        postgres_pid=postgres_pid,
        broker_pid=broker_pid,
    )


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def drop_database(server_url: str, name: str) -> None:
    async def drop() -> None:
        engine = create_async_engine(
            with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await engine.dispose()

    with contextlib.suppress(Exception):
        run_blocking(drop())
