"""A small demo organisation played through the pipeline and collab APIs, both running for
real (lifespans, relays, consumers) on PostgreSQL and the broker: no 5xx, exactly the events
the plan says, conflicts raised for the contacts without a grant, and a rerun that adds nothing."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.collab_svc.bootstrap import create_app as collab_app
from services.pipeline_svc.bootstrap import create_app as pipeline_app
from services.pipeline_svc.domain.playbook import default_playbook
from shared.auth import issue_token
from shared.clock import FixedClock
from shared.demo.console import token_factory
from shared.demo.driver import Driver, Report
from shared.demo.generator import generate
from shared.demo.plan import Plan, Service
from shared.demo.profiles import AFTER, Shape
from shared.settings import DEV_JWT_SECRET
from tests.infra import unique_name
from tests.support import eventually, settings_for

# a busy organisation across two regions, so that two months hold requests and conflicts
PROFILE = dataclasses.replace(AFTER, requests_per_month=25.0, conflicts_per_month=25.0)
#: events the services record on their own, not in answer to a command
SYSTEM_EVENTS = {"PlaybookPublished", "ContactGrantExpired", "CrossRegionConflictDetected"}


class Stack:
    def __init__(self, clients: dict[Service, httpx.AsyncClient], apps: dict[Service, Any]):
        self.clients, self.apps = clients, apps

    async def events(self, service: Service) -> Counter[str]:
        engine = getattr(self.apps[service].state, service).engine
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT event_name, count(*) AS n FROM events GROUP BY event_name")
            )
            return Counter({r.event_name: int(r.n) for r in rows})

    async def play(self, plan: Plan, run: str) -> Report:
        def sign(sub: str, role: str, region: str, team: str) -> str:
            return issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team)

        driver = Driver(self.clients, token_factory(plan, sign), run, catch_up_s=60)
        return await driver.play(plan)


@pytest.fixture(scope="module")
async def stack(make_database: Callable[..., str], kafka_bootstrap: str) -> AsyncIterator[Stack]:
    clock = FixedClock(datetime.now(UTC))
    prefix = unique_name("demo") + "."
    common = {"mode": "all", "topic_prefix": prefix, "scheduler_interval_s": 0.2}
    pipeline = pipeline_app(
        settings_for(make_database("demo_p"), kafka_bootstrap, service="pipeline", **common), clock
    )
    collab = collab_app(
        settings_for(make_database("demo_c"), kafka_bootstrap, service="collab", **common), clock
    )
    async with (
        pipeline.router.lifespan_context(pipeline),
        collab.router.lifespan_context(collab),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=pipeline), base_url="http://pipeline", timeout=60
        ) as p,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=collab), base_url="http://collab", timeout=60
        ) as c,
    ):
        yield Stack({"pipeline": p, "collab": c}, {"pipeline": pipeline, "collab": collab})


@pytest.fixture(scope="module")
def plan() -> Plan:
    return generate(
        seed=11,
        shape=Shape.of(8),
        profile=PROFILE,
        months=2,
        now=datetime.now(UTC) - timedelta(hours=1),
        playbook=default_playbook(),
    )


def _commanded(counts: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in counts.items() if k not in SYSTEM_EVENTS})


async def test_a_small_demo_plays_without_a_server_error(stack: Stack, plan: Plan) -> None:
    assert plan.conflicts, "the plan should hold contacts without a grant"
    assert plan.expected_events("collab")["ContactApproved"] > 0
    report = await stack.play(plan, "it-1")
    assert report.server_errors == 0
    assert report.failures == []
    assert (report.unexpected, report.skipped) == (0, 0)
    assert report.sent == len(plan.commands)
    assert report.replayed == 0
    assert report.statuses[409] == plan.expected_events("pipeline")["StageAdvanceBlocked"]


async def test_the_stores_hold_exactly_the_events_the_plan_records(
    stack: Stack, plan: Plan
) -> None:
    assert _commanded(await stack.events("pipeline")) == plan.expected_events("pipeline")
    assert _commanded(await stack.events("collab")) == plan.expected_events("collab")
    assert (await stack.events("pipeline"))["PlaybookPublished"] == 1


async def test_each_contact_without_a_grant_raises_one_conflict(stack: Stack, plan: Plan) -> None:
    async def conflicts() -> int | None:
        n = (await stack.events("collab"))["CrossRegionConflictDetected"]
        return n if n >= len(plan.conflicts) else None

    assert await eventually(conflicts, timeout_s=60) == len(plan.conflicts)


async def test_a_rerun_replays_and_records_nothing_new(stack: Stack, plan: Plan) -> None:
    before = {s: await stack.events(s) for s in ("pipeline", "collab")}
    report = await stack.play(plan, "it-1")
    assert (report.unexpected, report.skipped, report.server_errors) == (0, 0, 0)
    assert report.replayed == len(plan.commands)
    for service in ("pipeline", "collab"):
        assert _commanded(await stack.events(service)) == _commanded(before[service])
