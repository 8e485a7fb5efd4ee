"""Batched apply: what one fetch returns for a partition goes through one transaction, and a
failing batch changes none of the delivery guarantees — on a real broker and PostgreSQL.

Every test produces its messages before the runner starts, all on one key (one partition), so
the runner's first fetch holds them together. `inbox.processed_at` is the transaction's start
time: events that share it were applied in one transaction.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

import shared.contracts  # noqa: F401
from shared.contracts.pipeline import ActivityLogged
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry
from shared.messaging.batch import BatchHandler, Handler
from shared.messaging.consumer import ConsumerRunner, stalled_consumers
from shared.messaging.kafka import ensure_topics
from shared.observability import EVENTS_CONSUMED
from tests.infra import unique_name
from tests.integration.test_consumer import applied, as_message, envelope
from tests.integration.test_consumer_faults import ActivityLoggedV2, count_dead_letters, record
from tests.support import eventually, migrated_engine, settings_for

pytestmark = pytest.mark.integration
KEY = "acct-batch"
Message = tuple[bytes, bytes, list[tuple[str, bytes]]]


class Bench:
    """A database with an `applied` table, a topic, and runners of one consumer group."""

    def __init__(self, engine: Any, database_url: str, bootstrap: str) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.settings = settings_for(database_url, bootstrap, consumer_max_attempts=2)
        self.topic = self.settings.topic("pipeline")
        self.group = unique_name("group")
        self.registry = EventRegistry()
        self.registry.register(ActivityLogged)
        self.tasks: list[asyncio.Task[None]] = []

    def runner(
        self, handler: Handler = record, batch_handler: BatchHandler | None = None
    ) -> ConsumerRunner:
        return ConsumerRunner(
            self.engine,
            self.settings,
            self.registry,
            self.group,
            [self.topic],
            {} if batch_handler else {"ActivityLogged": handler},
            batch_handlers={"ActivityLogged": batch_handler} if batch_handler else None,
        )

    async def start(self, runner: ConsumerRunner) -> asyncio.Task[None]:
        task = asyncio.create_task(runner.run())
        self.tasks.append(task)
        return task

    async def send(self, messages: list[Message]) -> int:
        """Produce in order; returns the partition (one key, so one partition)."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=50)
        await producer.start()
        try:
            sent = [
                await producer.send(self.topic, value, key=key, headers=headers)
                for key, value, headers in messages
            ]
            partitions = {(await s).partition for s in sent}
        finally:
            await producer.stop()
        assert len(partitions) == 1
        return partitions.pop()

    async def committed(self, runner: ConsumerRunner, partition: int) -> int | None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=runner.group_id, enable_auto_commit=False
        )
        await consumer.start()
        try:
            offset: int | None = await consumer.committed(TopicPartition(self.topic, partition))
            return offset
        finally:
            await consumer.stop()

    async def transactions(self) -> int:
        """How many transactions applied the inbox rows."""
        async with self.engine.connect() as conn:
            found = await conn.execute(text("SELECT count(DISTINCT processed_at) FROM inbox"))
            return int(found.scalar() or 0)

    async def applied_ids(self) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(text("SELECT event_id FROM applied ORDER BY n"))
            return [str(r.event_id) for r in rows]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.engine.dispose()


@pytest.fixture
async def bench(database_url: str, kafka_bootstrap: str) -> Any:
    engine = await migrated_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE applied (n serial PRIMARY KEY, event_id uuid, summary text)")
        )
    made = Bench(engine, database_url, kafka_bootstrap)
    await ensure_topics(kafka_bootstrap, [made.topic], 3)
    yield made
    await made.stop()


def events(n: int, prefix: str = "event") -> list[Envelope]:
    return [envelope(f"{prefix} {i}", KEY) for i in range(n)]


def unhandled(env: Envelope) -> Message:
    key, value, headers = as_message(env)
    renamed = b"sightline.pipeline.SomethingElse.v1"
    return key, value, [(k, renamed if k == "ce_type" else v) for k, v in headers]


def counted(runner: ConsumerRunner, outcome: str) -> float:
    return float(EVENTS_CONSUMED.labels(runner.group_id, outcome)._value.get())


async def has(bench: Bench, n: int) -> bool:
    return len(await applied(bench.engine)) >= n


async def test_a_fetch_is_applied_once_in_one_transaction_and_its_offset_committed(
    bench: Bench,
) -> None:
    batch = events(40)
    messages = [as_message(e) for e in batch]
    messages[10:10] = [unhandled(envelope("not ours", KEY))] * 2  # ignored: they just advance
    partition = await bench.send(messages)
    runner = bench.runner()
    await bench.start(runner)

    await eventually(lambda: has(bench, 40), timeout_s=40)
    await eventually(lambda: _committed_at(bench, runner, partition, len(messages)), timeout_s=20)
    assert await applied(bench.engine) == [e.event.summary for e in batch]  # type: ignore[attr-defined]
    assert await bench.applied_ids() == [str(e.event_id) for e in batch], "each once, in order"
    assert await bench.transactions() == 1, "the fetch was applied in one transaction"
    assert counted(runner, "applied") == 40
    assert counted(runner, "ignored") == 2


async def _committed_at(bench: Bench, runner: ConsumerRunner, partition: int, n: int) -> bool:
    return await bench.committed(runner, partition) == n


async def test_a_poison_event_in_a_batch_is_parked_alone_and_the_rest_applied_once(
    bench: Bench,
) -> None:
    batch = events(20)
    poison = envelope("explode in the middle", KEY)
    batch.insert(9, poison)
    attempts: dict[str, int] = {}

    async def handler(conn: AsyncConnection, env: Envelope) -> None:
        attempts[str(env.event_id)] = attempts.get(str(env.event_id), 0) + 1
        if env.event_id == poison.event_id:
            raise RuntimeError("the projection cannot take this one")
        await record(conn, env)

    partition = await bench.send([as_message(e) for e in batch])
    runner = bench.runner(handler)
    await bench.start(runner)

    await eventually(lambda: has(bench, 20), timeout_s=40)
    await eventually(lambda: _committed_at(bench, runner, partition, 21), timeout_s=20)
    good = [e for e in batch if e is not poison]
    assert await bench.applied_ids() == [str(e.event_id) for e in good], "each once, in order"
    async with bench.engine.connect() as conn:
        parked = list(await conn.execute(text("SELECT event_id, status FROM dead_letters")))
    assert [(r.event_id, r.status) for r in parked] == [(str(poison.event_id), "parked")]
    async with bench.engine.connect() as conn:
        inbox = (await conn.execute(text("SELECT count(*) FROM inbox"))).scalar()
    assert inbox == 20, "the parked event holds no inbox row"
    # the batch ran once (rolled back at the poison), then one at a time
    assert attempts[str(poison.event_id)] == 1 + 2
    assert counted(runner, "applied") == 20


async def test_a_redelivered_batch_is_not_applied_twice(bench: Bench) -> None:
    batch = events(30)
    partition = await bench.send([as_message(e) for e in batch])
    crashed = bench.runner()

    async def lost(*_: Any) -> None:  # applied and committed in the database, offset not
        return None

    crashed._commit = lost  # type: ignore[method-assign]
    first = await bench.start(crashed)
    await eventually(lambda: has(bench, 30), timeout_s=40)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert await bench.committed(crashed, partition) is None
    applied_before = counted(crashed, "applied")  # one group: the counters are shared

    later = envelope("after the redelivery", KEY)
    await bench.send([as_message(later)])
    again = bench.runner()  # the same group: it starts from the committed offset, the beginning
    await bench.start(again)
    await eventually(lambda: has(bench, 31), timeout_s=60)
    await eventually(lambda: _committed_at(bench, again, partition, 31), timeout_s=20)
    assert await bench.applied_ids() == [str(e.event_id) for e in [*batch, later]]
    assert counted(again, "duplicate") == 30
    assert counted(again, "applied") == applied_before + 1


async def test_a_database_fault_in_mid_batch_applies_nothing_twice_and_all_after_recovery(
    bench: Bench,
) -> None:
    batch = events(25)
    victim = batch[12]
    faults: list[str] = []
    stalls: list[str] = []

    async def handler(conn: AsyncConnection, env: Envelope) -> None:
        await record(conn, env)
        if env.event_id == victim.event_id and not faults:
            faults.append("the connection dies in the middle of the batch")
            await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    partition = await bench.send([as_message(e) for e in batch])
    runner = bench.runner(handler)
    await bench.start(runner)

    async def recovered() -> bool:
        stalls.extend(str(v) for v in stalled_consumers().get(runner.group_id, {}).values())
        return await has(bench, 25)

    await eventually(recovered, timeout_s=60, every_s=0.02)
    await eventually(lambda: _committed_at(bench, runner, partition, 25), timeout_s=20)
    assert faults, "the fault happened"
    assert await bench.applied_ids() == [str(e.event_id) for e in batch], "each once, in order"
    assert await count_dead_letters(bench.engine) == 0, "a fault is not the message's fault"
    assert counted(runner, "applied") == 25


async def test_a_newer_version_in_mid_batch_lets_what_precedes_it_through_and_waits(
    bench: Bench,
) -> None:
    before, after = events(5, "before"), events(3, "after")
    newer = envelope("from the newer producer", KEY)
    key, value, headers = as_message(newer)
    v2 = [(k, b"sightline.pipeline.ActivityLogged.v2" if k == "ce_type" else v) for k, v in headers]
    messages = [*map(as_message, before), (key, value, v2), *map(as_message, after)]
    partition = await bench.send(messages)
    runner = bench.runner()
    await bench.start(runner)

    await eventually(lambda: has(bench, 5), timeout_s=40)
    await eventually(
        lambda: "newer than this process knows" in str(stalled_consumers().get(runner.group_id)),
        timeout_s=20,
    )
    await eventually(lambda: _committed_at(bench, runner, partition, 5), timeout_s=20)
    await asyncio.sleep(1.5)  # retries meanwhile: nothing overtakes the waiting event
    assert await bench.applied_ids() == [str(e.event_id) for e in before]
    assert await bench.committed(runner, partition) == 5, "the offset waits at the newer event"

    bench.registry.register(ActivityLoggedV2)  # the consumer is upgraded
    bench.registry.upcaster("ActivityLogged", 1)(lambda payload: payload)
    await eventually(lambda: has(bench, 9), timeout_s=30)
    await eventually(lambda: _committed_at(bench, runner, partition, 9), timeout_s=20)
    assert await bench.applied_ids() == [str(e.event_id) for e in [*before, newer, *after]]
    assert await count_dead_letters(bench.engine) == 0


async def test_a_batch_handler_writes_a_batch_in_one_call_and_falls_back_to_one_at_a_time(
    bench: Bench,
) -> None:
    batch = events(30)
    poison = batch[17]
    calls: list[int] = []

    async def save_all(conn: AsyncConnection, envs: list[Envelope]) -> None:
        calls.append(len(envs))
        if any(e.event_id == poison.event_id for e in envs):
            raise ValueError("one row of the batch is invalid")
        await conn.execute(
            text("INSERT INTO applied (event_id, summary) VALUES (:id, :s)"),
            [{"id": str(e.event_id), "s": e.event.summary} for e in envs],  # type: ignore[attr-defined]
        )

    partition = await bench.send([as_message(e) for e in batch])
    runner = bench.runner(batch_handler=save_all)
    await bench.start(runner)

    await eventually(lambda: has(bench, 29), timeout_s=40)
    await eventually(lambda: _committed_at(bench, runner, partition, 30), timeout_s=20)
    assert await bench.applied_ids() == [str(e.event_id) for e in batch if e is not poison]
    assert max(calls) > 1, "the batch handler was given the claimed events together"
    assert calls.count(1) >= 30 - 1, "after the failure, one event per call"
    assert await count_dead_letters(bench.engine) == 1
