"""A consumer holding messages back shows in /readyz and /metrics of the running service."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from services.pipeline_svc.bootstrap import create_app
from shared.messaging.kafka import ensure_topics
from tests.integration.test_consumer import send
from tests.support import eventually, settings_for

pytestmark = pytest.mark.integration


async def test_an_event_version_from_the_future_makes_the_service_not_ready_and_shows_in_metrics(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(database_url, kafka_bootstrap, mode="all")
    topic = settings.topic("collab")
    await ensure_topics(kafka_bootstrap, [topic], settings.topic_partitions)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        [consumer] = app.state.consumers
        await asyncio.wait_for(consumer.assigned.wait(), 60)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pipeline") as client:
            assert (await client.get("/readyz")).status_code == 200
            headers = [
                ("ce_id", str(uuid.uuid4()).encode()),
                ("ce_type", b"sightline.collab.AccountRegistered.v7"),
                ("ce_source", b"/sightline/collab"),
                ("ce_specversion", b"1.0"),
                ("ce_time", b"2026-11-27T10:00:00+00:00"),
            ]
            await send(kafka_bootstrap, topic, [(b"acct-future", b"{}", headers)])

            async def not_ready() -> dict[str, str] | None:
                r = await client.get("/readyz")
                return r.json()["checks"] if r.status_code == 503 else None

            checks = await eventually(not_ready, timeout_s=30)
            assert checks["database"] == checks["broker"] == "ok"
            assert "AccountRegistered v7 is newer than this process knows" in checks["consumers"]
            metrics = (await client.get("/metrics")).text
            stalled = f'sightline_consumer_stalled_partitions{{group="{consumer.group_id}"}} 1.0'
            assert stalled in metrics
            assert 'sightline_dead_letters_parked{service="pipeline"} 0.0' in metrics
