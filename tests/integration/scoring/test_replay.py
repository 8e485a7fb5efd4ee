"""`sightline replay scoring` while the service runs: the same facts, scores and KPIs after a full
replay; events sent meanwhile land once; `--as-of` keeps a past view beside the live tables.

The tests of this module run in order on one app (events accumulate on its topics).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from typing import Any

import pytest
from sqlalchemy import text

from services.scoring_svc.entrypoints.consumers.replay import plan
from shared.clock import SystemClock
from shared.db import make_engine
from shared.events.base import DomainEvent
from shared.events.registry import registry
from shared.replay.progress import Silent
from shared.replay.rebuild import Rebuild, ReplayOptions, ReplayResult
from shared.settings import Settings
from tests.conftest import ROOT
from tests.integration.scoring.conftest import ADMIN, Api
from tests.unit.scoring.builders import Deal, at, team_week_47

pytestmark = pytest.mark.integration
EAST_MONTHS = {"from": "2026-10-01", "to": "2026-12-01", "granularity": "month", "region": "east"}


def october(deals: int, activities: int, owner: str = "rep-b") -> list[DomainEvent]:
    """Busy October deals of an east rep: enough events to replay in several batches."""
    ev: list[DomainEvent] = []
    for d in range(deals):
        deal = Deal(ev, at(1 + d % 20, 9, month=10), owner=owner, account="acct-1")
        for i in range(activities):
            deal.activity(at(2 + (d + i) % 25, 11, month=10))
        if d % 3 == 0:
            deal.won(at(28, 10, month=10))
    return ev


async def facts(api: Api, where: str = "") -> list[Any]:
    sql = (
        "SELECT event_id, event_name, event_version, occurred_at, payload::text AS payload"
        f" FROM scoring_facts {where} ORDER BY event_id"
    )
    async with api.app.state.scoring.engine.connect() as conn:
        return list(await conn.execute(text(sql)))


async def reads(api: Api) -> list[Any]:
    """What managers read: a rep's week, the region's ranking, the region's monthly KPIs."""
    return [
        await api.get("/health/reps/rep-a", week="2026-W47"),
        await api.get("/health", ADMIN, week="2026-W47", region="east"),
        await api.get("/kpis", ADMIN, **EAST_MONTHS),
    ]


async def replay(
    api: Api, options: ReplayOptions | None = None, progress: Any = None
) -> ReplayResult:
    [projection] = plan(api.settings, registry, SystemClock()).projections
    engine = make_engine(api.settings.database_url or "", pool_size=2)
    try:
        return await Rebuild(engine, api.settings, registry, projection, options, progress).run()
    finally:
        await engine.dispose()


async def test_after_a_full_replay_the_facts_scores_and_kpis_are_the_same(api: Api) -> None:
    events = team_week_47() + october(deals=30, activities=20)
    await api.publish(events)
    await api.wait_facts(len(events))
    facts_before, reads_before = await facts(api), await reads(api)
    assert len(facts_before) == len(events)

    result = await replay(api, ReplayOptions(batch_records=200))

    assert (result.counts.read, result.counts.applied) == (len(events), len(events))
    assert result.rows == {"scoring_facts": len(events)}
    assert result.rows_before == {"scoring_facts": len(events)}
    assert await facts(api) == facts_before
    assert await reads(api) == reads_before
    async with api.app.state.scoring.engine.connect() as conn:
        archived = await conn.execute(text(f"SELECT count(*) FROM {result.archive}.scoring_facts"))
        assert archived.scalar() == len(events), "the replaced table is kept for a rollback"


class SendWhileReading(Silent):
    """Progress sink that publishes more events as soon as the replay has read its first batch."""

    def __init__(self, api: Api, events: list[DomainEvent]) -> None:
        self._api, self._events = api, events
        self.sent: asyncio.Task[None] | None = None

    def advance(self, done: int) -> None:
        if self.sent is None:
            self.sent = asyncio.create_task(self._api.publish(self._events))


async def test_events_sent_while_the_replay_runs_are_neither_lost_nor_doubled(api: Api) -> None:
    before = len(await facts(api))
    during, after = october(10, 20, owner="rep-a"), october(3, 10, owner="rep-d")
    sender = SendWhileReading(api, during)

    await replay(api, ReplayOptions(batch_records=100), sender)
    assert sender.sent is not None
    await sender.sent
    await api.publish(after)  # to the swapped-in table, by the live consumer

    await api.wait_facts(before + len(during) + len(after))
    await asyncio.sleep(1.0)  # room for a (wrong) second application to show
    rows = await facts(api, "WHERE event_name = 'ActivityLogged'")
    activity_ids = [json.loads(r.payload)["activity_id"] for r in rows]
    expected = [e.activity_id for e in during + after if hasattr(e, "activity_id")]
    assert len(await facts(api)) == before + len(during) + len(after)
    assert set(expected) <= set(activity_ids)
    assert len(activity_ids) == len(set(activity_ids))


async def test_as_of_keeps_a_past_view_beside_untouched_live_tables(api: Api) -> None:
    as_of = at(15, 0, month=10)
    async with api.app.state.scoring.engine.connect() as conn:
        oid = (await conn.execute(text("SELECT 'scoring_facts'::regclass::oid"))).scalar()
    live_before = await facts(api)
    earlier = await facts(api, f"WHERE occurred_at < '{as_of.isoformat()}'")
    assert 0 < len(earlier) < len(live_before)

    out, err, code = await cli(
        api.settings, "scoring", "--as-of", "2026-10-15"
    )  # org time zone: Shanghai
    assert code == 0, err
    found = re.search(r"(asof_scoring_facts_\w+)\.scoring_facts", out)
    assert found is not None, out
    schema = found.group(1)
    async with api.app.state.scoring.engine.connect() as conn:
        kept = list(
            await conn.execute(
                text(
                    "SELECT event_id, event_name, event_version, occurred_at,"
                    f" payload::text AS payload FROM {schema}.scoring_facts ORDER BY event_id"
                )
            )
        )
        oid_after = (await conn.execute(text("SELECT 'scoring_facts'::regclass::oid"))).scalar()
    assert kept == earlier
    assert all(r.occurred_at < as_of for r in kept)
    assert oid_after == oid, "the live table was not swapped"
    assert await facts(api) == live_before
    assert f"{len(earlier):,} rows" in out

    out, err, code = await cli(api.settings, "scoring", "--clean")
    assert code == 0, err
    assert schema in out
    async with api.app.state.scoring.engine.connect() as conn:
        left = await conn.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%scoring_facts_%'")
        )
        assert left.scalar() == 0, "archives and as-of views are dropped"


async def cli(settings: Settings, *args: str) -> tuple[str, str, int]:
    """`sightline replay` as an operator runs it, against the running service's servers."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "SIGHTLINE_TOPIC_PREFIX": settings.topic_prefix,
        "SIGHTLINE_TIMEZONE": settings.timezone,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "replay",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return out.decode(), err.decode(), proc.returncode or 0
