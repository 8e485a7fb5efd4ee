"""`sightline replay collab`: the timeline rebuilt from both topics, row for row the one the running
consumer built, group changes included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.collab_svc.entrypoints.consumers.replay import plan
from shared.clock import SystemClock
from shared.db import make_engine
from shared.events.registry import registry
from shared.replay.rebuild import Rebuild, ReplayOptions
from tests.integration.collab.conftest import Api, unique
from tests.integration.collab.pipeline import Deal
from tests.support import eventually

pytestmark = pytest.mark.integration
ROWS = (
    "SELECT event_id, account_id, group_id, kind, region, actor, occurred_at, data::text AS data"
    " FROM timeline_entries ORDER BY event_id"
)


async def entries(api: Api) -> list[Any]:
    async with api.app.state.collab.engine.connect() as conn:
        return list(await conn.execute(text(ROWS)))


async def test_a_replayed_timeline_is_row_for_row_the_one_the_consumer_built(api: Api) -> None:
    await api.regions("east", "south", "north")
    group, later_group = unique("grp"), unique("grp")
    known = (await api.account("east", group_id=group))["account_id"]
    late = unique("acct")  # its deal's events arrive before it is registered
    t0 = api.clock.now() - timedelta(days=30)
    sent = []
    for deal in (Deal(known), Deal(known), Deal(late)):
        sent.append(deal.opened(t0))
        sent += [deal.activity(t0 + timedelta(hours=h), summary=f"call {h}") for h in range(1, 40)]
        sent.append(deal.won(t0 + timedelta(days=20)))
    await api.publish(*sent)
    await api.wait_timeline(late, 41)
    await api.account("east", group_id=group, account_id=late)
    await api.ok(
        "PUT",
        f"/accounts/{known}",
        api.manager("east"),
        json={"name": "A", "group_id": later_group},
    )

    async def settled() -> bool:
        moved = await api.ok(
            "GET", f"/groups/{later_group}/timeline", api.rep("north"), params={"limit": 200}
        )
        joined = await api.ok(
            "GET", f"/groups/{group}/timeline", api.rep("north"), params={"limit": 200}
        )
        return len(moved["items"]) == 82 and len(joined["items"]) == 41

    await eventually(settled, timeout_s=60)
    rows_before = await entries(api)
    assert len(rows_before) == len(sent)
    reads_before = [
        await api.timeline(late, order="asc", limit=200),
        await api.ok(
            "GET", f"/groups/{later_group}/timeline", api.rep("south"), params={"limit": 200}
        ),
    ]

    [timeline] = plan(api.settings, registry, SystemClock()).projections
    engine = make_engine(api.settings.database_url or "", pool_size=2)
    try:
        options = ReplayOptions(batch_records=40, drop_previous=True)
        result = await Rebuild(engine, api.settings, registry, timeline, options).run()
    finally:
        await engine.dispose()

    assert result.rows == {"timeline_entries": len(sent)}
    assert result.counts.applied >= len(sent) + 2  # the entries and the two group changes
    assert await entries(api) == rows_before
    assert [
        await api.timeline(late, order="asc", limit=200),
        await api.ok(
            "GET", f"/groups/{later_group}/timeline", api.rep("south"), params={"limit": 200}
        ),
    ] == reads_before
