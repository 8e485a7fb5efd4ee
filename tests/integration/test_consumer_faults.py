"""The consumer runner under faults: a database blip, a newer event version, a deterministic
failure parked in the database and replayed through the CLI."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

import shared.contracts  # noqa: F401
from shared.cli import app
from shared.contracts.pipeline import ActivityLogged
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry
from shared.messaging import deadletters
from shared.messaging.consumer import ConsumerRunner, stalled_consumers
from shared.messaging.kafka import ensure_topics
from shared.observability import CONSUMER_STALLED
from shared.runtime.embedded import with_database
from tests.infra import unique_name
from tests.integration.test_consumer import applied, as_message, envelope, send
from tests.support import eventually, migrated_engine, settings_for

pytestmark = pytest.mark.integration


class ActivityLoggedV2(ActivityLogged):
    """What a newer build publishes; this process learns it only when 'upgraded'."""

    event_version: ClassVar[int] = 2


async def start_runner(
    database_url: str, bootstrap: str, handler: Any, registry: EventRegistry | None = None
) -> tuple[Any, ConsumerRunner, str, asyncio.Task[None]]:
    engine = await migrated_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE applied (n serial PRIMARY KEY, event_id uuid, summary text)")
        )
    settings = settings_for(database_url, bootstrap, consumer_max_attempts=2)
    topic = settings.topic("pipeline")
    await ensure_topics(bootstrap, [topic], 3)
    if registry is None:
        registry = EventRegistry()
        registry.register(ActivityLogged)
    runner = ConsumerRunner(
        engine,
        settings,
        registry,
        unique_name("group"),
        [topic],
        {"ActivityLogged": handler},
        replay_interval_s=0.2,
    )
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(runner.assigned.wait(), 60)
    return engine, runner, topic, task


async def record(conn: AsyncConnection, env: Envelope) -> None:
    await conn.execute(
        text("INSERT INTO applied (event_id, summary) VALUES (:id, :s)"),
        {"id": str(env.event_id), "s": env.event.summary},  # type: ignore[attr-defined]
    )


async def stop(task: asyncio.Task[None], engine: Any) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await engine.dispose()


async def count_dead_letters(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM dead_letters"))).scalar() or 0)


async def admin_sql(server_url: str, *statements: str) -> None:
    admin = create_async_engine(
        with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await admin.dispose()


async def test_a_database_refusing_connections_for_seconds_loses_and_parks_nothing(
    postgres_server: str, database_url: str, kafka_bootstrap: str
) -> None:
    engine, runner, topic, task = await start_runner(database_url, kafka_bootstrap, record)
    name = make_url(database_url).database
    summaries = [f"during the outage {i}" for i in range(6)]
    try:
        await admin_sql(
            postgres_server,
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )
        await send(
            kafka_bootstrap,
            topic,
            [as_message(envelope(s, f"a{i}")) for i, s in enumerate(summaries)],
        )
        await eventually(lambda: runner.group_id in stalled_consumers(), timeout_s=30)
        assert CONSUMER_STALLED.labels(runner.group_id)._value.get() >= 1
        await asyncio.sleep(3)  # ten times the old retry window: it must keep waiting
        await admin_sql(postgres_server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await eventually(lambda: _count(engine, len(summaries)), timeout_s=60)
        await asyncio.sleep(0.5)  # a late duplicate would show up now
        assert sorted(await applied(engine)) == sorted(summaries), "each applied exactly once"
        assert await count_dead_letters(engine) == 0, "an outage is not the message's fault"
        await eventually(lambda: runner.group_id not in stalled_consumers())
    finally:
        await admin_sql(postgres_server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await stop(task, engine)


async def _count(engine: Any, n: int) -> bool:
    return len(await applied(engine)) >= n


async def test_an_event_version_newer_than_the_consumer_waits_until_it_is_known(
    database_url: str, kafka_bootstrap: str
) -> None:
    known = EventRegistry()
    known.register(ActivityLogged)
    engine, runner, topic, task = await start_runner(
        database_url, kafka_bootstrap, record, registry=known
    )
    try:
        newer = envelope("from the newer producer", "acct-v")
        key, value, headers = as_message(newer)
        v2_headers = [
            (k, b"sightline.pipeline.ActivityLogged.v2" if k == "ce_type" else v)
            for k, v in headers
        ]
        after = envelope("next on the same key", "acct-v")
        await send(kafka_bootstrap, topic, [(key, value, v2_headers), as_message(after)])
        await eventually(
            lambda: (
                "newer than this process knows" in str(stalled_consumers().get(runner.group_id))
            ),
            timeout_s=30,
        )
        await asyncio.sleep(1.5)
        assert await applied(engine) == [], "nothing overtakes the waiting event"
        assert await count_dead_letters(engine) == 0

        known.register(ActivityLoggedV2)  # the consumer is upgraded
        known.upcaster("ActivityLogged", 1)(lambda payload: payload)
        await eventually(lambda: _count(engine, 2), timeout_s=30)
        assert await applied(engine) == ["from the newer producer", "next on the same key"]
        assert await count_dead_letters(engine) == 0
    finally:
        await stop(task, engine)


async def test_a_deterministic_failure_is_parked_listed_and_replayed_through_the_cli(
    database_url: str, kafka_bootstrap: str
) -> None:
    broken = {"needs a fix"}

    async def handler(conn: AsyncConnection, env: Envelope) -> None:
        if env.event.summary in broken:  # type: ignore[attr-defined]
            raise RuntimeError("the projection cannot take this one")
        await record(conn, env)

    engine, runner, topic, task = await start_runner(database_url, kafka_bootstrap, handler)
    cli = CliRunner()
    try:
        poison, good, other = envelope("needs a fix", "k"), envelope("fine", "k"), envelope("x")
        await send(kafka_bootstrap, topic, [as_message(poison), as_message(good)])
        await eventually(lambda: _count(engine, 1), timeout_s=30)
        assert await applied(engine) == ["fine"], "the partition moved on past the parked one"

        listed = cli.invoke(app, ["dead-letters", "list", "--database-url", database_url])
        assert listed.exit_code == 0, listed.output
        assert str(poison.event_id) in listed.stdout
        assert "RuntimeError: the projection cannot take this one" in listed.stdout
        [parked] = await deadletters.list_dead_letters(engine, deadletters.DeadLetterFilter())
        assert (parked.event_id, parked.consumer) == (str(poison.event_id), runner.group_id)

        broken.clear()  # the fix is deployed
        replay = ["dead-letters", "replay", "--database-url", database_url, "--id", str(parked.id)]
        replayed = cli.invoke(app, replay)
        assert replayed.exit_code == 0, replayed.output
        assert "1 dead letter(s) queued for replay" in replayed.stdout
        await eventually(lambda: _count(engine, 2), timeout_s=30)
        assert await applied(engine) == ["fine", "needs a fix"]
        left = await deadletters.list_dead_letters(engine, deadletters.DeadLetterFilter())
        assert left == [], "nothing is parked any more"

        # replaying an already applied event goes through the inbox: it changes nothing
        again = deadletters.DeadLetterFilter(ids=[parked.id], statuses=["replayed"])
        assert await deadletters.request_replay(engine, again) == 1
        await eventually(lambda: _status(engine, parked.id, "replayed"))
        await send(kafka_bootstrap, topic, [as_message(other)])
        await eventually(lambda: _count(engine, 3), timeout_s=30)
        assert await applied(engine) == ["fine", "needs a fix", "x"]
    finally:
        await stop(task, engine)


async def test_discarded_dead_letters_are_never_replayed(
    database_url: str, kafka_bootstrap: str
) -> None:
    async def always_fails(conn: AsyncConnection, env: Envelope) -> None:
        raise ValueError("never valid")

    engine, _runner, topic, task = await start_runner(database_url, kafka_bootstrap, always_fails)
    cli = CliRunner()
    try:
        await send(kafka_bootstrap, topic, [as_message(envelope("doomed"))])
        await eventually(lambda: _dead(engine, 1), timeout_s=30)
        refused = cli.invoke(app, ["dead-letters", "discard", "--database-url", database_url])
        assert refused.exit_code != 0, "discarding needs a filter or --all"
        done = cli.invoke(app, ["dead-letters", "discard", "--database-url", database_url, "--all"])
        assert done.exit_code == 0, done.output
        assert "1 dead letter(s) discarded" in done.stdout
        replay = cli.invoke(app, ["dead-letters", "replay", "--database-url", database_url])
        assert "0 dead letter(s) queued for replay" in replay.stdout
        everything = deadletters.DeadLetterFilter(statuses=["discarded"])
        [row] = await deadletters.list_dead_letters(engine, everything)
        assert row.attempts == 1
    finally:
        await stop(task, engine)


async def _dead(engine: Any, n: int) -> bool:
    return await count_dead_letters(engine) >= n


async def _status(engine: Any, row_id: int, status: str) -> bool:
    async with engine.connect() as conn:
        got = await conn.execute(
            text("SELECT status FROM dead_letters WHERE id = :id"), {"id": row_id}
        )
        return got.scalar() == status
