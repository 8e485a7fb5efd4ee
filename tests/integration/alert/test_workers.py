"""Deadline workers on real PostgreSQL: several at once never double-fire; a worker killed
mid-firing loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from sqlalchemy import text

from services.alert_svc.application.alerts import fire_due
from services.alert_svc.entrypoints.scheduler import DeadlineScheduler
from shared.clock import FixedClock
from tests.integration.alert.conftest import Api, unique
from tests.support import eventually

RULE = "follow-up-gap"


async def plant(
    api: Api, count: int, region: str, due_in: timedelta = timedelta(minutes=-1)
) -> list[str]:
    """Open subjects with a deadline each, written straight into the read models."""
    ids = [unique("opp") for _ in range(count)]
    due = api.clock.now() + due_in
    async with api.svc.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO alert_opportunities (opportunity_id, account_id, owner_id, team,"
                " region, stage, status, updated_at) SELECT o, 'acct-' || o, 'rep-x', :r || '-1',"
                " :r, 'lead', 'open', :due FROM unnest(CAST(:ids AS text[])) AS o"
            ),
            {"ids": ids, "r": region, "due": due},
        )
        await conn.execute(
            text(
                "INSERT INTO alert_deadlines (rule_id, opportunity_id, rule_version, state,"
                " started_at, due_at) SELECT :rule, o, 1, 'pending', :start, :due"
                " FROM unnest(CAST(:ids AS text[])) AS o"
            ),
            {"ids": ids, "rule": RULE, "start": due - timedelta(days=7), "due": due},
        )
    return ids


async def raised_per_subject(api: Api, ids: list[str]) -> dict[str, int]:
    async with api.svc.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT payload->>'opportunity_id' AS o, count(*) AS n FROM events"
                " WHERE event_name = 'AlertRaised' AND payload->>'opportunity_id' = ANY(:ids)"
                " GROUP BY 1"
            ),
            {"ids": ids},
        )
        return {r.o: r.n for r in rows}


async def test_two_workers_fire_every_deadline_exactly_once(api: Api) -> None:
    # due in an hour by the app's clock: only the two workers below, an hour and a half ahead,
    # see them due
    ids = await plant(api, 400, unique("r"), due_in=timedelta(hours=1))
    ahead = FixedClock(api.clock.now() + timedelta(minutes=90))
    workers = [DeadlineScheduler(api.svc.uow, ahead, interval_s=0.05, batch=25) for _ in "ab"]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:

        async def all_fired() -> bool:
            sql = (
                "SELECT count(*) FROM alert_deadlines WHERE opportunity_id = ANY(:ids)"
                " AND state = 'fired'"
            )
            return int(await api.scalar(sql, ids=ids)) == len(ids)

        await eventually(all_fired, timeout_s=60)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    counts = await raised_per_subject(api, ids)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    alerts = await api.scalar(
        "SELECT count(*) FROM alert_alerts WHERE opportunity_id = ANY(:ids)", ids=ids
    )
    assert alerts == len(ids)
    assert sum(w.raised for w in workers) >= len(ids)  # the two did it all (and maybe more)


async def test_a_worker_killed_mid_firing_loses_nothing(api: Api) -> None:
    # due in an hour, so the app's own scheduler leaves them to the worker we kill
    ids = await plant(api, 30, unique("r"), due_in=timedelta(hours=1))
    uow = api.svc.uow()
    await uow.__aenter__()
    try:
        conn = uow._conn
        assert conn is not None
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        _, raised = await fire_due(uow.tx, api.clock.now() + timedelta(hours=2), 1000)
        assert raised >= len(ids)
        # the worker's process dies before its commit: PostgreSQL ends the session
        async with api.svc.engine.connect() as killer:
            await killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            await killer.commit()
    finally:
        with contextlib.suppress(Exception):  # the connection is dead, as intended
            await uow.__aexit__(None, None, None)
    assert await raised_per_subject(api, ids) == {}
    assert await api.scalar(
        "SELECT count(*) FROM alert_deadlines WHERE opportunity_id = ANY(:ids)"
        " AND state = 'pending'",
        ids=ids,
    ) == len(ids)
    api.clock.advance(timedelta(hours=2))

    async def refired() -> bool:
        return set((await raised_per_subject(api, ids)).values()) == {1} and len(
            await raised_per_subject(api, ids)
        ) == len(ids)

    await eventually(refired, timeout_s=60)
