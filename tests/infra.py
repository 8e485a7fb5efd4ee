"""Servers for integration and e2e tests: given by TEST_* variables, else embedded; never skipped."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.runtime.embedded import (
    EmbeddedKafka,
    EmbeddedPostgres,
    create_database,
    free_port,
    with_database,
)
from shared.runtime.processes import run_blocking

DATABASE_ENV = "TEST_DATABASE_URL"
KAFKA_ENV = "TEST_KAFKA_BOOTSTRAP_SERVERS"
#: `TEST_CONTAINERS=1`: PostgreSQL and Apache Kafka in Docker containers (needs a Docker engine)
CONTAINERS_ENV = "TEST_CONTAINERS"
POSTGRES_IMAGE = "postgres:16"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"


def containers_wanted() -> bool:
    return os.environ.get(CONTAINERS_ENV) == "1"


@contextmanager
def container(kind: str) -> Iterator[str]:
    """PostgreSQL (its asyncpg URL) or Kafka (bootstrap) in Docker via testcontainers."""
    try:
        if kind == "postgres":
            from testcontainers.community.postgres import PostgresContainer

            box: Any = PostgresContainer(POSTGRES_IMAGE, driver="asyncpg")
        else:
            from testcontainers.community.kafka import KafkaContainer

            box = KafkaContainer(KAFKA_IMAGE).with_kraft()
        box.start()
    except Exception as exc:
        pytest.fail(
            f"{CONTAINERS_ENV}=1 but the {kind} container did not start (is a Docker engine "
            f"running?): {exc!r}",
            pytrace=False,
        )
    try:
        yield box.get_connection_url() if kind == "postgres" else box.get_bootstrap_server()
    finally:
        box.stop()


def unique_name(prefix: str = "t") -> str:
    """A name no other test uses: databases, topics, consumer groups, stream ids."""
    clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:40]
    return f"{clean}_{uuid.uuid4().hex[:12]}"


async def _check_postgres(url: str) -> None:
    engine = create_async_engine(with_database(url, "postgres"), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def _check_kafka(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


@contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database, for the whole session."""
    given = os.environ.get(DATABASE_ENV)
    if given:
        try:
            run_blocking(_check_postgres(given))
        except Exception as exc:
            pytest.fail(f"{DATABASE_ENV}={given!r} is not reachable: {exc!r}", pytrace=False)
        yield given
        return
    if containers_wanted():
        with container("postgres") as url:
            yield url
        return
    server = EmbeddedPostgres(workdir / "pg")
    try:
        server.start()
    except Exception as exc:
        server.stop()
        pytest.fail(f"embedded PostgreSQL did not start: {exc}", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


def new_database(server_url: str, prefix: str = "t") -> str:
    """A freshly created, uniquely named database on that server; its asyncpg URL."""
    try:
        return run_blocking(create_database(server_url, unique_name(prefix)))
    except Exception as exc:
        pytest.fail(f"cannot create a test database: {exc!r}", pytrace=False)


@contextmanager
def kafka_bootstrap(log_dir: Path) -> Iterator[str]:
    """`host:port` of a Kafka-protocol broker shared by the session."""
    given = os.environ.get(KAFKA_ENV)
    if given:
        try:
            run_blocking(_check_kafka(given))
        except Exception as exc:
            pytest.fail(f"{KAFKA_ENV}={given!r} is not reachable: {exc!r}", pytrace=False)
        yield given
        return
    if containers_wanted():
        with container("kafka") as bootstrap:
            yield bootstrap
        return
    with embedded_kafka(log_dir) as broker:
        yield broker.bootstrap


@contextmanager
def embedded_kafka(log_dir: Path) -> Iterator[EmbeddedKafka]:
    """A private embedded broker on a free port, which a test may `restart()` (it comes back empty)."""
    if os.environ.get(KAFKA_ENV):
        pytest.fail(
            f"this test restarts the broker, which only works with the embedded one; "
            f"unset {KAFKA_ENV} to run it",
            pytrace=False,
        )
    broker = EmbeddedKafka(free_port(), log_dir=log_dir)
    try:
        broker.start()
    except Exception as exc:
        broker.stop()
        pytest.fail(f"embedded Tansu broker did not start: {exc}", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()
