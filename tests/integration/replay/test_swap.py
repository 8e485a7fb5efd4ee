"""The replay's swap while the live consumer runs: nothing lost, nothing doubled, nothing else
written — on a projection with no natural dedupe (a serial key, no unique event id)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import shared.contracts  # noqa: F401
from shared.db import make_engine
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope
from shared.events.registry import registry
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.kafka import ensure_topics
from shared.replay.applier import ReplayError
from shared.replay.bulk import copy_rows
from shared.replay.progress import Silent
from shared.replay.rebuild import Rebuild, ReplayOptions
from shared.replay.spec import Projection, ReplayGroup
from shared.settings import Settings
from tests.infra import unique_name
from tests.support import envelope, eventually, migrated_engine, settings_for

pytestmark = pytest.mark.integration
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def batch(label: str, count: int) -> list[Envelope]:
    return [
        envelope(f"{label}-{i}", f"acct-{i % 7}", T0 + timedelta(minutes=i), f"o-acct-{i % 7}")
        for i in range(count)
    ]


async def record(conn: AsyncConnection, env: Envelope) -> None:
    summary = env.event.summary  # type: ignore[attr-defined]
    if summary.startswith("explode"):
        raise RuntimeError("the projection cannot take this one")
    await conn.execute(
        text("INSERT INTO applied (event_id, summary) VALUES (:id, :s)"),
        {"id": str(env.event_id), "s": summary},
    )


async def record_many(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
    """The bulk form, as a rebuild may write it: one COPY; a poison event fails the batch."""
    summaries = [e.event.summary for e in envelopes]  # type: ignore[attr-defined]
    if any(s.startswith("explode") for s in summaries):
        raise RuntimeError("the projection cannot take this batch")
    rows = [(e.event_id, s) for e, s in zip(envelopes, summaries, strict=True)]
    await copy_rows(conn, "applied", ("event_id", "summary"), rows)


async def record_and_audit(conn: AsyncConnection, env: Envelope) -> None:
    await record(conn, env)
    await conn.execute(text("INSERT INTO audit (event_id) VALUES (:id)"), {"id": str(env.event_id)})


async def send(settings: Settings, envelopes: list[Envelope]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for env in envelopes:
            rec = encode(env, "/sightline/pipeline")
            sent.append(
                await producer.send(
                    settings.topic("pipeline"), rec.value, key=rec.key, headers=rec.headers
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def setup(database_url: str, bootstrap: str) -> tuple[AsyncEngine, Settings, str]:
    engine = await migrated_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE applied (n serial PRIMARY KEY, event_id uuid, summary text)")
        )
        await conn.execute(text("CREATE INDEX applied_by_summary ON applied (summary)"))
        await conn.execute(text("CREATE TABLE audit (event_id uuid)"))
    settings = settings_for(database_url, bootstrap)
    await ensure_topics(bootstrap, [settings.topic("pipeline")], 3)
    return engine, settings, unique_name("group")


def projection(
    settings: Settings, group: str, handler: Any = record, batch: Any = None
) -> Projection:
    topics = (settings.topic("pipeline"),)
    replayed = ReplayGroup(group, topics, {"ActivityLogged": handler}, batch)
    return Projection("applied", ("applied",), (replayed,))


async def rows(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql)))


class Hooks(Silent):
    """A progress sink that tells the test when the replay reads and when it swaps."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.swapping = asyncio.Event()

    def advance(self, done: int) -> None:
        self.reading.set()

    def phase(self, text: str) -> None:
        if text.startswith("swapping"):
            self.swapping.set()


async def test_events_sent_during_the_replay_are_applied_once_and_the_poison_stays_parked(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine, settings, group = await setup(database_url, kafka_bootstrap)
    live = ConsumerRunner(
        engine, settings, registry, group, [settings.topic("pipeline")], {"ActivityLogged": record}
    )
    before, during, swapping, after = (
        batch("a", 600),
        batch("b", 200),
        batch("c", 200),
        batch("d", 50),
    )
    poison = envelope("explode", "acct-0", T0, "o-acct-0")
    await send(settings, [*before, poison])
    consumer = asyncio.create_task(live.run())
    replay_engine = make_engine(settings.database_url or "", pool_size=2)
    try:
        await eventually(lambda: _count(engine, 600), timeout_s=90)
        hooks = Hooks()
        options = ReplayOptions(batch_records=50, catch_up_left=0)
        bulk = projection(settings, group, batch=record_many)  # the poison's batch falls back
        replay = asyncio.create_task(
            Rebuild(replay_engine, settings, registry, bulk, options, hooks).run()
        )
        await hooks.reading.wait()
        await send(settings, during)
        await hooks.swapping.wait()
        await send(settings, swapping)  # while the swap holds its locks, or just after
        result = await replay
        await send(settings, after)
        everything = [*before, *during, *swapping, *after]
        await eventually(lambda: _count(engine, len(everything)), timeout_s=90)
        await asyncio.sleep(1.0)  # room for a (wrong) second application to show
        applied = await rows(engine, "SELECT n, event_id, summary FROM applied")
        archived = await rows(engine, f"SELECT n FROM {result.archive}.applied")
        indexes = await rows(
            engine,
            "SELECT indexname FROM pg_indexes WHERE tablename = 'applied' AND schemaname = 'public' ORDER BY 1",
        )
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await replay_engine.dispose()
        await engine.dispose()
    ids = [r.event_id for r in applied]
    assert sorted(ids) == sorted(e.event_id for e in everything), "each event exactly once"
    assert result.counts.failed == 1, "the poison fails in the replay as it did live"
    assert result.counts.read >= 601
    assert result.rows_before["applied"] >= 600
    assert result.archive is not None and len(archived) == result.rows_before["applied"]
    assert [r.indexname for r in indexes] == ["applied_by_summary", "applied_pkey"]
    # the rebuilt table has its own sequence: started after the live one, moved past everything
    # the replaced table handed out when swapped in
    assert min(r.n for r in applied) > 600
    assert min(r.n for r in applied if r.summary.startswith("d-")) > max(r.n for r in archived)


async def test_a_handler_writing_outside_its_tables_stops_the_replay_and_changes_nothing(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine, settings, group = await setup(database_url, kafka_bootstrap)
    await send(settings, batch("a", 20))
    replay_engine = make_engine(settings.database_url or "", pool_size=2)
    try:
        oid_before = await rows(engine, "SELECT to_regclass('applied')::oid")
        with pytest.raises(ReplayError, match=r"wrote to public\.audit"):
            await Rebuild(
                replay_engine, settings, registry, projection(settings, group, record_and_audit)
            ).run()
        audit = await rows(engine, "SELECT * FROM audit")
        left = await rows(engine, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'replay_%'")
        oid_after = await rows(engine, "SELECT to_regclass('applied')::oid")
    finally:
        await replay_engine.dispose()
        await engine.dispose()
    assert audit == []
    assert left == [], "the half-built schema is dropped"
    assert oid_after == oid_before


async def apply_as_live(engine: AsyncEngine, consumer: str, events: list[Envelope]) -> None:
    """What the live consumer would have done with each event: its row and its inbox claim."""
    async with engine.begin() as conn:
        for env in events:
            await record(conn, env)
            await conn.execute(
                text("INSERT INTO inbox (consumer, event_id) VALUES (:c, :e)"),
                {"c": consumer, "e": str(env.event_id)},
            )


async def test_every_event_of_a_record_batch_is_replayed_up_to_the_true_end_of_the_log(
    database_url: str, kafka_bootstrap: str
) -> None:
    # one producer batch per partition: the embedded broker's ListOffsets names only its start
    engine, settings, group = await setup(database_url, kafka_bootstrap)
    events = batch("a", 30)
    await send(settings, events)
    await apply_as_live(engine, settings.topic_prefix + group, events)
    replay_engine = make_engine(settings.database_url or "", pool_size=2)
    try:
        one_process = ReplayOptions(workers=1)  # the in-process path; the others use workers
        result = await Rebuild(
            replay_engine, settings, registry, projection(settings, group), one_process
        ).run()
        ids = await rows(engine, "SELECT event_id FROM applied")
    finally:
        await replay_engine.dispose()
        await engine.dispose()
    assert result.counts.read == 30
    assert sorted(r.event_id for r in ids) == sorted(e.event_id for e in events)


async def test_an_event_that_fails_only_in_the_replay_refuses_the_swap(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine, settings, group = await setup(database_url, kafka_bootstrap)
    events = batch("a", 30)
    await send(settings, events)
    await apply_as_live(engine, settings.topic_prefix + group, events)

    async def fails_on_one(conn: AsyncConnection, env: Envelope) -> None:
        if env.event_id == events[7].event_id:
            raise RuntimeError("a bug in the new handler")
        await record(conn, env)

    replay_engine = make_engine(settings.database_url or "", pool_size=2)
    try:
        with pytest.raises(ReplayError, match="failed in the replay but were applied live"):
            await Rebuild(
                replay_engine, settings, registry, projection(settings, group, fails_on_one)
            ).run()
        count = await rows(engine, "SELECT count(*) FROM applied")
    finally:
        await replay_engine.dispose()
        await engine.dispose()
    assert count[0][0] == 30


async def _count(engine: AsyncEngine, n: int) -> bool:
    found = await rows(engine, "SELECT count(*) FROM applied")
    return bool(found[0][0] >= n)
