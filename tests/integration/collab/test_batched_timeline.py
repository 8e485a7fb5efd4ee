"""The timeline's batch handler writes exactly what its one-event handler writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.collab_svc.application import timeline
from services.collab_svc.bootstrap import MIGRATIONS
from shared.contracts.collab import AccountRegistered
from shared.db import make_engine, migrate
from shared.events.envelope import Envelope
from tests.integration.collab.conftest import envelope
from tests.integration.collab.pipeline import Deal

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
ADD_ACCOUNT = text(
    "INSERT INTO accounts (account_id, name, owning_region, group_id, contact_emails,"
    " contact_phones, version, registered_at, updated_at)"
    " VALUES (:a, :a, 'east', :g, '[]', '[]', 1, now(), now())"
)
ENTRIES = text(
    "SELECT event_id, account_id, group_id, kind, region, actor, occurred_at, data"
    " FROM timeline_entries ORDER BY seq"
)


def history() -> list[Envelope]:
    """Two accounts' deals interleaved, one account registered in the middle, a repeat."""
    a, b = Deal("acct-a"), Deal("acct-b", region="south", owner="rep-south")
    registered = AccountRegistered(
        occurred_at=T0, account_id="acct-b", name="B", owning_region="south", actor_id="adm"
    )
    day = timedelta(days=1)
    events = [a.opened(T0), b.opened(T0), a.activity(T0 + day), b.activity(T0 + day)]
    events.append(envelope(registered, "account-acct-b"))
    events += [b.artifact(T0 + 2 * day), a.won(T0 + 3 * day)]
    return [*events, events[2]]


async def fresh(url: str) -> AsyncEngine:
    engine = make_engine(url, pool_size=2)
    await migrate(engine, MIGRATIONS)
    async with engine.begin() as conn:
        await conn.execute(ADD_ACCOUNT, {"a": "acct-a", "g": "grp-1"})
    return engine


async def entries(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(ENTRIES)]


async def test_one_batch_gives_the_rows_of_one_event_at_a_time(
    make_database: Callable[..., str],
) -> None:
    events = history()
    one, many = await fresh(make_database("tl1")), await fresh(make_database("tln"))
    try:
        for engine in (one, many):  # collab registered acct-b (its API) before its event
            async with engine.begin() as conn:
                await conn.execute(ADD_ACCOUNT, {"a": "acct-b", "g": "grp-2"})
        for env in events:
            async with one.begin() as conn:
                await timeline.project(conn, env)
        async with many.begin() as conn:
            await timeline.project_many(conn, events)
        expected = await entries(one)
        assert len(expected) == 6, "the repeat and the registration add no entry"
        assert [r[2] for r in expected] == ["grp-1", "grp-2", "grp-1", "grp-2", "grp-2", "grp-1"]
        assert await entries(many) == expected
    finally:
        await one.dispose()
        await many.dispose()
