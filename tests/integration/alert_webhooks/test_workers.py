"""Several delivery workers on one database never send a delivery twice; the dispatcher alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from services.alert_svc.bootstrap import MIGRATIONS
from services.alert_svc.webhooks.adapters.deliveries import AttemptResult, Outgoing
from services.alert_svc.webhooks.adapters.sender import WebhookSender
from services.alert_svc.webhooks.adapters.subscriptions import Subscriptions
from services.alert_svc.webhooks.application.dispatch import Dispatcher
from services.alert_svc.webhooks.application.worker import DeliveryWorker
from services.alert_svc.webhooks.domain.retries import RetryPolicy
from services.alert_svc.webhooks.domain.subscriptions import new_secret
from services.alert_svc.webhooks.domain.urls import AllowList
from shared.clock import SystemClock
from shared.db import make_engine, migrate
from shared.events.base import DomainEvent
from tests.integration.alert_webhooks.conftest import Receiver, conflict, envelope
from tests.support import eventually

pytestmark = pytest.mark.integration
POLICY = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)


class RegionalProbe(DomainEvent):
    """A test-only event that carries its own `region` (as the alert events do)."""

    event_name: ClassVar[str] = "RegionalProbe"
    domain: ClassVar[str] = "alert"
    region: str
    note: str


class CountingSender(WebhookSender):
    """The real sender, counting what it sent (to see that both workers took part)."""

    def __init__(self, allow: AllowList) -> None:
        super().__init__(allow, timeout_s=5.0)
        self.sent: list[str] = []

    async def send(self, out: Outgoing, at: datetime) -> AttemptResult:
        self.sent.append(out.webhook_id)
        return await super().send(out, at)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=5)
    await migrate(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


async def subscribe(
    engine: AsyncEngine, url: str, types: list[str], region: str | None = None
) -> tuple[str, str]:
    sid, secret = str(uuid.uuid4()), new_secret()
    async with engine.begin() as conn:
        await Subscriptions(conn).add(
            sid, url, types, region, None, secret, "admin-1", datetime.now(UTC)
        )
    return sid, secret


async def statuses(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status")
        )
        return {r.status: r.n for r in rows}


async def all_delivered(engine: AsyncEngine, n: int) -> bool:
    return await statuses(engine) == {"delivered": n}


async def test_two_workers_send_every_delivery_exactly_once(
    engine: AsyncEngine, database_url: str, receiver: Receiver
) -> None:
    p = f"pair-{uuid.uuid4().hex[:8]}"
    receiver.delay_s[p] = 0.02  # slow answers keep both workers busy at once
    allow = AllowList.parse(f"127.0.0.1:{receiver.port}")
    _, secret = await subscribe(engine, receiver.url(p), ["*"])
    events = [conflict("east", account=f"acct-{n}") for n in range(80)]
    dispatcher = Dispatcher(SystemClock(), POLICY.max_attempts)
    async with engine.begin() as conn:
        for env in events:
            await dispatcher.handle(conn, env)
    senders = [CountingSender(allow), CountingSender(allow)]
    workers = [
        DeliveryWorker(engine, database_url, s, POLICY, SystemClock(), 0.05) for s in senders
    ]

    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await eventually(lambda: all_delivered(engine, len(events)), timeout_s=60)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    got = [r.headers["webhook-id"] for r in receiver.at(p)]
    assert sorted(got) == sorted(str(e.event_id) for e in events)  # each once, none twice
    assert all(s.sent for s in senders), [len(s.sent) for s in senders]
    assert sum(len(s.sent) for s in senders) == len(events)
    for r in receiver.at(p):
        Webhook(secret).verify(r.body, r.headers)
    async with engine.connect() as conn:
        attempts = (await conn.execute(text("SELECT count(*) FROM webhook_attempts"))).scalar()
    assert attempts == len(events)


async def test_the_payload_region_decides_over_the_metadata_region(
    engine: AsyncEngine, receiver: Receiver
) -> None:
    south, _ = await subscribe(engine, receiver.url("unused"), ["RegionalProbe"], "south")
    east, _ = await subscribe(engine, receiver.url("unused"), ["RegionalProbe"], "east")
    probe = RegionalProbe(occurred_at=datetime.now(UTC), region="south", note="n")
    env = envelope(probe, region="east")  # ce_region says east, the payload says south
    dispatcher = Dispatcher(SystemClock(), POLICY.max_attempts)

    async with engine.begin() as conn:
        await dispatcher.handle(conn, env)
        await dispatcher.handle(conn, env)  # a second pass adds nothing

    async with engine.connect() as conn:
        rows = list(
            await conn.execute(
                text("SELECT subscription_id, event_type, status FROM webhook_deliveries")
            )
        )
        region = (await conn.execute(text("SELECT region FROM webhook_events"))).scalar()
    assert [(str(r.subscription_id), r.event_type, r.status) for r in rows] == [
        (south, "RegionalProbe", "pending")
    ]
    assert east != south
    assert region == "south"


async def test_a_new_delivery_wakes_a_waiting_worker_without_polling(
    engine: AsyncEngine, database_url: str, receiver: Receiver
) -> None:
    p = f"wake-{uuid.uuid4().hex[:8]}"
    await subscribe(engine, receiver.url(p), ["*"])
    allow = AllowList.parse(f"127.0.0.1:{receiver.port}")
    # polling once an hour: only the NOTIFY of the dispatcher's commit can wake it in time
    worker = DeliveryWorker(
        engine, database_url, WebhookSender(allow, 5.0), POLICY, SystemClock(), 3600
    )
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.listening.wait(), 30)
        env = conflict("east")
        async with engine.begin() as conn:
            await Dispatcher(SystemClock(), POLICY.max_attempts).handle(conn, env)

        await eventually(lambda: all_delivered(engine, 1), timeout_s=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert [r.headers["webhook-id"] for r in receiver.at(p)] == [str(env.event_id)]
