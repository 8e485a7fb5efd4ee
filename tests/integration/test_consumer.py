"""The consumer runner: inbox dedupe, dead letters, partitions moving on — on a real broker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

import shared.contracts  # noqa: F401
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope
from shared.events.registry import registry
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.kafka import ensure_topics
from shared.observability import EVENTS_CONSUMED
from tests.infra import unique_name
from tests.support import envelope, eventually, header, migrated_engine, read_topic, settings_for

pytestmark = pytest.mark.integration


async def record_summary(conn: AsyncConnection, env: Envelope) -> None:
    summary = env.event.summary  # type: ignore[attr-defined]
    if summary.startswith("explode"):
        raise RuntimeError("the projection cannot take this one")
    await conn.execute(
        text("INSERT INTO applied (event_id, summary) VALUES (:id, :s)"),
        {"id": str(env.event_id), "s": summary},
    )


async def applied(engine: Any) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT summary FROM applied ORDER BY n"))
        return [r.summary for r in rows]


async def setup(database_url: str, bootstrap: str) -> tuple[Any, Any, ConsumerRunner, str]:
    engine = await migrated_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE applied (n serial PRIMARY KEY, event_id uuid, summary text)")
        )
    settings = settings_for(database_url, bootstrap, consumer_max_attempts=2)
    topic = settings.topic("pipeline")
    await ensure_topics(bootstrap, [topic], 3)
    runner = ConsumerRunner(
        engine,
        settings,
        registry,
        unique_name("group"),
        [topic],
        {"ActivityLogged": record_summary},
    )
    return engine, settings, runner, topic


async def send(
    bootstrap: str, topic: str, items: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value, headers in items:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def as_message(env: Envelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    rec = encode(env, "/sightline/pipeline")
    return rec.key, rec.value, rec.headers


async def test_a_redelivered_event_is_applied_once(database_url: str, kafka_bootstrap: str) -> None:
    engine, _, runner, topic = await setup(database_url, kafka_bootstrap)
    first, second = envelope("first"), envelope("second")
    await send(
        kafka_bootstrap,
        topic,
        [as_message(first), as_message(first), as_message(second), as_message(first)],
    )
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: _has(engine, ["first", "second"]), timeout_s=40)
        await asyncio.sleep(0.5)  # leave time for the later duplicate to be (not) applied
        assert await applied(engine) == ["first", "second"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def _has(engine: Any, expected: list[str]) -> bool:
    return await applied(engine) == expected


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_partition_moves_on(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine, _, runner, topic = await setup(database_url, kafka_bootstrap)
    good = envelope("after the poison")
    failing = envelope("explode: projection fault")
    key = b"acct-1"  # all on one partition, poison first
    malformed = (
        key,
        b"{not json",
        [
            ("ce_id", b"x"),
            ("ce_type", b"sightline.pipeline.ActivityLogged.v1"),
            ("ce_source", b"/t"),
            ("ce_specversion", b"1.0"),
        ],
    )
    no_type = (key, b"{}", [("ce_id", str(uuid.uuid4()).encode())])
    await send(kafka_bootstrap, topic, [malformed, no_type, as_message(failing), as_message(good)])
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: _has(engine, ["after the poison"]), timeout_s=40)
        dead = await read_topic(kafka_bootstrap, runner.dlq_topic, lambda rs: len(rs) >= 3)
        async with engine.connect() as conn:
            parked = list(
                await conn.execute(
                    text("SELECT event_id, error, status FROM dead_letters ORDER BY id")
                )
            )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
    assert len(dead) == 3
    errors = [header(r, "x-dlq-error") or "" for r in dead]
    assert "MalformedCloudEventError" in errors[0]
    assert "MalformedCloudEventError" in errors[1]
    assert "RuntimeError: the projection cannot take this one" in errors[2]
    assert all(header(r, "x-dlq-topic") == topic for r in dead)
    assert header(dead[2], "ce_id") == str(failing.event_id), "the original message travels along"
    # the durable copy: in the consumer's own database, ready to be replayed
    assert [(r.event_id, r.status) for r in parked] == [
        ("x", "parked"),
        (no_type[2][0][1].decode(), "parked"),
        (str(failing.event_id), "parked"),
    ]
    assert "RuntimeError: the projection cannot take this one" in parked[2].error


async def test_events_without_a_handler_are_skipped(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine, settings, _runner, topic = await setup(database_url, kafka_bootstrap)
    runner_without = ConsumerRunner(engine, settings, registry, unique_name("g"), [topic], {})
    await send(kafka_bootstrap, topic, [as_message(envelope("ignored"))])
    task = asyncio.create_task(runner_without.run())
    try:
        ignored = EVENTS_CONSUMED.labels(runner_without.group_id, "ignored")
        await eventually(lambda: ignored._value.get() == 1, timeout_s=30)
        assert await applied(engine) == []
        async with engine.connect() as conn:
            inbox = (await conn.execute(text("SELECT count(*) FROM inbox"))).scalar()
        assert inbox == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
