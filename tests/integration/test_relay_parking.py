"""The relay never blocks on one row: unpublishable rows are parked, their key waits behind
them, other keys flow on; batches are bounded in bytes; oversized events are refused at append."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, ClassVar

import asyncpg
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import shared.contracts  # noqa: F401
from shared.cli import app
from shared.clock import SystemClock
from shared.contracts.pipeline import ActivityLogged
from shared.errors import PayloadTooLargeError
from shared.events.envelope import Metadata
from shared.events.registry import EventRegistry, registry
from shared.messaging import outbox
from shared.messaging.relay import OutboxRelay, asyncpg_dsn
from shared.store.postgres import MAX_EVENT_BYTES
from shared.store.uow import SqlUnitOfWork
from tests.integration.test_relay import activity, append_stream, by_stream, stop, unpublished
from tests.support import eventually, header, migrated_engine, read_topic, settings_for

pytestmark = pytest.mark.integration


class ActivityLoggedV2(ActivityLogged):
    event_version: ClassVar[int] = 2


class BatchRecordingRelay(OutboxRelay):
    """The real relay, noting how many events each batch it sends holds."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.batches: list[int] = []

    async def _send(self, producer: Any, batch: list[Any]) -> tuple[list[Any], list[Any]]:
        self.batches.append(len(batch))
        return await super()._send(producer, batch)


async def append_one(engine: Any, stream: str, new: Any) -> None:
    async with SqlUnitOfWork(engine, registry, SystemClock()) as uow:
        await uow.events.append(stream, "opportunity", 0, [new], Metadata())
        await uow.commit()


async def parked_ids(engine: Any) -> list[int]:
    return [p.global_id for p in await outbox.list_parked(engine)]


async def global_ids(engine: Any, stream: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT global_id FROM events WHERE stream_id = :s ORDER BY version"),
            {"s": stream},
        )
        return [r.global_id for r in rows]


async def test_a_row_from_a_newer_build_is_parked_its_key_waits_and_other_keys_flow_once(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine = await migrated_engine(database_url)
    settings = settings_for(database_url, kafka_bootstrap)
    topic = settings.topic("pipeline")
    known = EventRegistry()
    known.register(ActivityLogged)
    await append_stream(engine, "a", "key-a", 2)
    await append_stream(engine, "b", "key-b", 3)
    await append_stream(engine, "c", "key-c", 2)
    # the first event of stream b was written by a newer build (a version this relay lacks)
    [b1, *_] = await global_ids(engine, "opp-b")
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE events SET event_version = 2 WHERE global_id = :g"), {"g": b1}
        )
    relay = OutboxRelay(engine, settings, known, SystemClock())
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _parked_and_held(engine, [b1], 2), timeout_s=30)
        records = await read_topic(kafka_bootstrap, topic, lambda rs: len(rs) >= 4, timeout_s=20)
        await asyncio.sleep(1.0)  # a looping relay would send a and c again meanwhile
        records = await read_topic(kafka_bootstrap, topic, lambda rs: False, timeout_s=2)
        streams = by_stream(records)
        assert streams == {"opp-a": [1, 2], "opp-c": [1, 2]}, "other keys once, b held back"
        [parked] = await outbox.list_parked(engine)
        assert "ActivityLogged v2" in parked.park_error

        listed = CliRunner().invoke(app, ["outbox", "list", "--database-url", database_url])
        assert listed.exit_code == 0, listed.output
        assert f"#{b1}\tActivityLogged v2" in listed.stdout

        known.register(ActivityLoggedV2)  # the upgrade, then the operator releases the row
        released = CliRunner().invoke(
            app, ["outbox", "replay", "--database-url", database_url, "--id", str(b1)]
        )
        assert released.exit_code == 0, released.output
        assert "1 parked event(s) released" in released.stdout
        await eventually(lambda: _zero(engine), timeout_s=30)
        records = await read_topic(kafka_bootstrap, topic, lambda rs: len(rs) >= 7, timeout_s=20)
    finally:
        await stop(task)
        await engine.dispose()
    streams = by_stream(records)
    assert streams["opp-b"] == [1, 2, 3], "b arrives complete and in order after the release"
    assert Counter(header(r, "ce_id") for r in records).most_common(1)[0][1] == 1


async def _parked_and_held(engine: Any, parked: list[int], held: int) -> bool:
    return await parked_ids(engine) == parked and await unpublished(engine) == held + len(parked)


async def _zero(engine: Any) -> bool:
    return await unpublished(engine) == 0


async def test_a_record_the_producer_refuses_as_too_large_is_parked_not_retried_forever(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine = await migrated_engine(database_url)
    # a tiny request limit makes an ordinary large event too large for this producer
    settings = settings_for(database_url, kafka_bootstrap, max_body_bytes=2_000)
    big = activity("big", "key-big", 0)
    big = type(big)(big.event.model_copy(update={"summary": "x" * 100_000}), key="key-big")
    await append_one(engine, "opp-big", big)
    await append_stream(engine, "big", "key-big", 1, start=1)  # same key: must wait
    await append_stream(engine, "small", "key-small", 2)
    relay = OutboxRelay(engine, settings, registry, SystemClock())
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _unpublished_is(engine, 2), timeout_s=30)
        records = await read_topic(
            kafka_bootstrap, settings.topic("pipeline"), lambda rs: len(rs) >= 2
        )
    finally:
        await stop(task)
        await engine.dispose()
    assert by_stream(records) == {"opp-small": [1, 2]}


async def _unpublished_is(engine: Any, n: int) -> bool:
    return await unpublished(engine) == n and len(await parked_ids(engine)) == 1


async def test_a_batch_is_bounded_by_bytes_as_well_as_rows(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine = await migrated_engine(database_url)
    await append_stream(engine, "bytes", "key-bytes", 10)
    try:
        async with engine.connect() as conn:
            size = (
                await conn.execute(
                    text(
                        "SELECT max(octet_length(payload::text) + octet_length(metadata::text))"
                        " FROM events"
                    )
                )
            ).scalar()
            assert size
        raw = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            # (rows, whether more may wait behind them)
            batches = [
                await outbox.pending(raw, limit, max_bytes)
                for limit, max_bytes in ((500, 10**9), (4, 10**9), (500, 3 * size), (500, 1))
            ]
        finally:
            await raw.close()
        assert [(len(rows), more) for rows, more in batches] == [
            (10, False),  # everything there was
            (4, True),  # cut by the row limit
            (3, True),  # cut by the byte bound
            (1, True),  # the first row always goes
        ]
        assert [r.version for r in batches[0][0]] == list(range(1, 11))
        settings = settings_for(database_url, kafka_bootstrap, relay_batch_max_bytes=2 * size)
        relay = BatchRecordingRelay(engine, settings, registry, SystemClock())
        task = asyncio.create_task(relay.run())
        try:
            await eventually(lambda: _zero(engine), timeout_s=30)
        finally:
            await stop(task)
        assert sum(relay.batches) == 10
        assert max(relay.batches) <= 2, f"batches of at most two events: {relay.batches}"
    finally:
        await engine.dispose()


async def test_an_event_larger_than_the_limit_is_refused_at_append_and_nothing_is_written(
    database_url: str,
) -> None:
    engine = await migrated_engine(database_url)
    huge = activity("huge", "key-huge", 0)
    huge = type(huge)(huge.event.model_copy(update={"summary": "x" * MAX_EVENT_BYTES}), key="k")
    try:
        with pytest.raises(PayloadTooLargeError) as refused:
            await append_one(engine, "opp-huge", huge)
        assert refused.value.status == 413
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM events"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_commits_within_the_linger_share_one_drain(
    database_url: str, kafka_bootstrap: str
) -> None:
    engine = await migrated_engine(database_url)
    settings = settings_for(database_url, kafka_bootstrap, relay_linger_ms=1000)
    relay = BatchRecordingRelay(engine, settings, registry, SystemClock())
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: relay.is_leader, timeout_s=30)
        await append_stream(engine, "first", "key-linger", 1)  # after a quiet spell: at once
        await eventually(lambda: _zero(engine), timeout_s=30)
        # five commands in a row, each its own transaction and NOTIFY, well within the linger
        await append_stream(engine, "first", "key-linger", 5, start=1)
        await eventually(lambda: _zero(engine), timeout_s=30)
    finally:
        await stop(task)
        await engine.dispose()
    assert relay.batches == [1, 5]
