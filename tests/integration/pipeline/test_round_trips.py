"""The command path's cost on the wire: the fewest round trips its guarantees allow.

A warm command (its deal's snapshot in memory) takes two statements, each its own
transaction: one that reads the stream's tail and the account's owner, and one that appends
the events and writes the list view if the owner is still the one read (checked under a row
lock). An Idempotency-Key puts the command in a transaction and adds five: BEGIN, the key's
lock, the read of a stored answer (after the lock, so that a twin's committed answer is seen),
the answer stored, and COMMIT. Counted by a proxy
between the service and PostgreSQL that sees every Query and Sync message. The relay's waker
(its NOTIFY after commits, at most one per linger, on a connection of its own) goes through
the proxy too and is counted apart.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.roundtrips import RoundTripCounter
from services.pipeline_svc.bootstrap import create_app
from tests.integration.pipeline.conftest import Api
from tests.support import settings_for

pytestmark = pytest.mark.integration
ACTIVITY = {"kind": "call", "summary": "walked the plant with the buyer"}


@pytest.fixture
async def counted(
    database_url: str, kafka_bootstrap: str
) -> AsyncIterator[tuple[Api, RoundTripCounter]]:
    async with RoundTripCounter(database_url) as proxy:
        app = create_app(settings_for(proxy.url, kafka_bootstrap, mode="api"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://p") as client:
                yield Api(client, app), proxy


async def per_command(api: Api, proxy: RoundTripCounter, opp_id: str, keyed: bool) -> float:
    before = proxy.count
    for _ in range(10):
        headers = api.as_()
        if keyed:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        r = await api.client.post(
            f"/opportunities/{opp_id}/activities", json=ACTIVITY, headers=headers
        )
        assert r.status_code == 200, r.text
    return (proxy.count - before) / 10


async def test_a_warm_command_takes_two_round_trips(
    counted: tuple[Api, RoundTripCounter],
) -> None:
    api, proxy = counted
    opp = await api.open()
    assert await per_command(api, proxy, opp["id"], keyed=False) == 2
    assert await per_command(api, proxy, opp["id"], keyed=True) == 7
    # the waker's NOTIFYs after those commits went through the proxy too, counted apart (how
    # many a linger coalesces is `tests/integration/test_outbox_wake.py`'s business)
    await asyncio.sleep(0.2)
    assert proxy.apart_count >= 1
    r = await api.client.get(f"/opportunities/{opp['id']}", headers=api.as_())
    assert r.json()["version"] == 21  # opened + 20 activities, each recorded once
