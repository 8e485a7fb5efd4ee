"""Helpers the integration and e2e tests share: settings, schema, reading a topic back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from services.pipeline_svc.bootstrap import MIGRATIONS
from shared.contracts.pipeline import ActivityLogged
from shared.db import make_engine, migrate
from shared.events.envelope import Envelope, Metadata
from shared.settings import Settings
from tests.infra import unique_name


def settings_for(database_url: str, bootstrap: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "service": "pipeline",
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "topic_prefix": unique_name("p") + ".",
        "topic_partitions": 3,
        "relay_poll_interval_s": 0.2,
        "db_pool_size": 5,
    }
    values.update(overrides)
    return Settings.model_validate(values)


async def migrated_engine(database_url: str) -> AsyncEngine:
    engine = make_engine(database_url, pool_size=5)
    await migrate(engine, MIGRATIONS)
    return engine


async def read_topic(
    bootstrap: str,
    topic: str,
    done: Callable[[list[ConsumerRecord[Any, Any]]], bool],
    timeout_s: float = 30.0,
) -> list[ConsumerRecord[Any, Any]]:
    """Read a topic from its beginning (all partitions) until `done(records)` or the timeout."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await asyncio.sleep(0.2)
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        while time.monotonic() < deadline and not done(records):
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                records.extend(msgs)
        return records
    finally:
        await consumer.stop()


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for k, v in record.headers:
        if k == name:
            return bytes(v).decode()
    return None


async def eventually(
    check: Callable[[], Any], timeout_s: float = 20.0, every_s: float = 0.1
) -> Any:
    """Await `check()` (sync or async) until it returns truthy; fail with its last value."""
    deadline = time.monotonic() + timeout_s
    value: Any = None
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value: {value!r})")


def envelope(
    summary: str = "",
    account: str = "acct-1",
    at: datetime | None = None,
    opportunity: str = "o-1",
) -> Envelope:
    """A stored `ActivityLogged` of `opportunity` (a call by rep-1 of east), as a consumer gets it."""
    at = at or datetime.now(UTC)
    event = ActivityLogged(
        occurred_at=at,
        opportunity_id=opportunity,
        account_id=account,
        activity_id=str(uuid.uuid4()),
        kind="call",
        customer_facing=True,
        stage="lead",
        actor_id="rep-1",
        actor_region="east",
        summary=summary,
    )
    return Envelope(
        event_id=uuid.uuid4(),
        stream_id=f"opportunity-{opportunity}",
        stream_type="opportunity",
        version=1,
        event=event,
        recorded_at=at,
        key=account,
        metadata=Metadata(actor="rep-1"),
    )
