"""The fact projection's batch write: one statement, offset order kept, a repeat stored once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import shared.contracts  # noqa: F401
from services.scoring_svc.adapters.facts import FactCache, save_many
from services.scoring_svc.bootstrap import MIGRATIONS
from shared.contracts.collab import MemberAssigned
from shared.db import make_engine, migrate
from shared.events.registry import registry
from tests.integration.scoring.conftest import envelope
from tests.unit.scoring.builders import at

pytestmark = pytest.mark.integration


def member(n: int) -> MemberAssigned:
    return MemberAssigned(
        occurred_at=at(16, 9 + n),
        member_id=f"rep-{n}",
        name=f"Rep {n}",
        region_id="east",
        team_id="east-1",
        role="rep",
        actor_id="admin-1",
    )


async def test_a_batch_of_facts_is_stored_in_order_and_a_repeat_once(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=2)
    try:
        await migrate(engine, MIGRATIONS)
        first, second, third = (envelope(member(n)) for n in range(3))
        async with engine.begin() as conn:
            await save_many(conn, [first, second, first, third])
        async with engine.begin() as conn:
            await save_many(conn, [second])  # redelivered in a later batch
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT event_id FROM scoring_facts ORDER BY seq"))
            stored = [str(r.event_id) for r in rows]
        assert stored == [str(e.event_id) for e in (first, second, third)]
        facts = await FactCache(engine, registry).events()
        assert sorted(f.member_id for f in facts) == ["rep-0", "rep-1", "rep-2"]  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
