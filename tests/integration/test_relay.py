"""The outbox relay against real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

import shared.contracts  # noqa: F401
from shared.clock import SystemClock
from shared.contracts.pipeline import ActivityLogged
from shared.events.cloudevents import decode
from shared.events.envelope import Metadata, NewEvent
from shared.events.registry import registry
from shared.messaging.relay import OutboxRelay
from shared.runtime.embedded import EmbeddedKafka
from shared.store.uow import SqlUnitOfWork
from tests.support import eventually, header, migrated_engine, read_topic, settings_for

pytestmark = pytest.mark.integration


def activity(opp: str, account: str, n: int) -> NewEvent:
    event = ActivityLogged(
        occurred_at=datetime.now(UTC),
        opportunity_id=opp,
        account_id=account,
        activity_id=f"{opp}-{n}",
        kind="call",
        customer_facing=True,
        stage="lead",
        actor_id="rep-1",
        actor_region="east",
        summary=f"call {n}",
    )
    return NewEvent(event, key=account)


async def append_stream(engine: Any, opp: str, account: str, count: int, start: int = 0) -> None:
    """Append `count` events to one stream, one transaction each (like commands do)."""
    for n in range(start, start + count):
        async with SqlUnitOfWork(engine, registry, SystemClock()) as uow:
            await uow.events.append(
                f"opp-{opp}", "opportunity", n, [activity(opp, account, n)], Metadata()
            )
            await uow.commit()


async def unpublished(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(text("SELECT count(*) FROM events WHERE published_at IS NULL"))
            ).scalar()
            or 0
        )


def by_stream(records: list[Any]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in records:
        out.setdefault(header(r, "ce_streamid") or "", []).append(
            int(header(r, "ce_streamversion") or 0)
        )
    return out


async def start_relay(engine: Any, settings: Any) -> tuple[OutboxRelay, asyncio.Task[None]]:
    relay = OutboxRelay(engine, settings, registry, SystemClock())
    return relay, asyncio.create_task(relay.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_relay_publishes_concurrent_streams_in_stream_order_per_key(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine = await migrated_engine(database_url)
    settings = settings_for(database_url, kafka_bootstrap)
    _relay, task = await start_relay(engine, settings)
    try:
        # six streams over three accounts, written concurrently while the relay runs
        await asyncio.gather(
            *(append_stream(engine, f"o{i}", f"acct-{i % 3}", 15) for i in range(6))
        )
        await eventually(lambda: _zero(engine))
        topic = settings.topic("pipeline")
        records = await read_topic(kafka_bootstrap, topic, lambda rs: len(rs) >= 90)
    finally:
        await stop(task)
        await engine.dispose()
    streams = by_stream(records)
    assert sorted(streams) == sorted(f"opp-o{i}" for i in range(6))
    for versions in streams.values():
        assert versions == list(range(1, 16)), "each stream arrives complete and in order"
    partitions_per_key: dict[str, set[int]] = {}
    for r in records:
        partitions_per_key.setdefault(r.key.decode(), set()).add(r.partition)
    assert all(len(p) == 1 for p in partitions_per_key.values()), "one account, one partition"
    decoded = [decode(r.headers, r.value, registry) for r in records]
    assert {d.event.account_id for d in decoded} == {"acct-0", "acct-1", "acct-2"}  # type: ignore[attr-defined]


async def _zero(engine: Any) -> bool:
    return await unpublished(engine) == 0


async def test_relay_restart_loses_nothing(database_url: str, kafka_bootstrap: str) -> None:
    engine = await migrated_engine(database_url)
    settings = settings_for(database_url, kafka_bootstrap)
    _relay, task = await start_relay(engine, settings)
    try:
        await append_stream(engine, "r1", "acct-r", 10)
        await eventually(lambda: _zero(engine))
        await stop(task)  # a killed worker
        await append_stream(engine, "r1", "acct-r", 10, start=10)  # written while no relay runs
        assert await unpublished(engine) == 10
        _relay, task = await start_relay(engine, settings)
        await eventually(lambda: _zero(engine))
        records = await read_topic(
            kafka_bootstrap, settings.topic("pipeline"), lambda rs: len(rs) >= 20
        )
    finally:
        await stop(task)
        await engine.dispose()
    assert sorted(set(by_stream(records)["opp-r1"])) == list(range(1, 21))


async def test_only_one_relay_per_database_leads(database_url: str, kafka_bootstrap: str) -> None:
    engine = await migrated_engine(database_url)
    settings = settings_for(database_url, kafka_bootstrap)
    first, t1 = await start_relay(engine, settings)
    second, t2 = await start_relay(engine, settings)
    try:
        await eventually(lambda: first.is_leader or second.is_leader)
        await asyncio.sleep(0.5)
        assert [first.is_leader, second.is_leader].count(True) == 1
        leader_task = t1 if first.is_leader else t2
        follower = second if first.is_leader else first
        await stop(leader_task)  # the leader dies: the other takes over
        await eventually(lambda: follower.is_leader)
        await append_stream(engine, "l1", "acct-l", 5)
        await eventually(lambda: _zero(engine))
    finally:
        await stop(t1)
        await stop(t2)
        await engine.dispose()


async def test_broker_restart_loses_nothing(database_url: str, kafka_broker: EmbeddedKafka) -> None:
    engine = await migrated_engine(database_url)
    settings = settings_for(database_url, kafka_broker.bootstrap)
    topic = settings.topic("pipeline")
    _relay, task = await start_relay(engine, settings)
    try:
        await append_stream(engine, "b1", "acct-b", 5)
        await eventually(lambda: _zero(engine))
        kafka_broker.stop()
        await append_stream(
            engine, "b1", "acct-b", 5, start=5
        )  # committed while the broker is down
        await asyncio.sleep(1.0)
        assert await unpublished(engine) == 5, (
            "nothing is marked published while the broker is away"
        )
        kafka_broker.start()  # memory storage: it comes back empty
        records = await read_topic(
            kafka_broker.bootstrap,
            topic,
            lambda rs: set(by_stream(rs).get("opp-b1", [])) >= set(range(1, 11)),
            timeout_s=45,
        )
    finally:
        await stop(task)
        await engine.dispose()
    assert sorted(set(by_stream(records)["opp-b1"])) == list(range(1, 11)), (
        "events published before the restart are published again, the rest for the first time"
    )
