"""The scoring app in-process with its lifespan (consumers, week scheduler) on real servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.scoring_svc.bootstrap import create_app
from shared.auth import issue_token
from shared.clock import FixedClock
from shared.events.base import DomainEvent
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope, Metadata
from shared.messaging.kafka import ensure_topics
from shared.settings import DEV_JWT_SECRET, Settings
from tests.support import eventually, settings_for
from tests.unit.scoring.builders import at

Headers = dict[str, str]
START = at(20, 12)  # Friday of 2026-W47, Asia/Shanghai


def who(sub: str, role: str, region: str, team: str) -> Headers:
    token = issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team)
    return {"Authorization": f"Bearer {token}"}


ADMIN = who("admin-1", "admin", "hq", "hq")


def envelope(event: DomainEvent) -> Envelope:
    stream = getattr(event, "opportunity_id", None) or getattr(event, "account_id", None)
    stream = stream or getattr(event, "member_id", "x")
    return Envelope(
        event_id=uuid.uuid4(),
        stream_id=str(stream),
        stream_type="test",
        version=1,
        event=event,
        recorded_at=datetime.now(UTC),
        key=getattr(event, "account_id", None) or str(stream),
        metadata=Metadata(actor="importer"),
    )


class Api:
    def __init__(self, client: httpx.AsyncClient, app: Any, clock: FixedClock, settings: Settings):
        self.client = client
        self.app = app
        self.clock = clock
        self.settings = settings

    async def publish(self, events: list[DomainEvent]) -> None:
        """Send events as the pipeline's and collab's relays would, on their own topics."""
        bootstrap = self.settings.kafka_bootstrap_servers or ""
        topics = {d: self.settings.topic(d) for d in ("pipeline", "collab")}
        await ensure_topics(bootstrap, list(topics.values()), self.settings.topic_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for e in events:
                rec = encode(envelope(e), f"/sightline/{e.domain}")
                await producer.send_and_wait(
                    topics[e.domain], rec.value, key=rec.key, headers=rec.headers
                )
        finally:
            await producer.stop()

    async def facts(self) -> int:
        from sqlalchemy import text

        async with self.app.state.scoring.engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM scoring_facts"))).scalar())

    async def wait_facts(self, n: int) -> None:
        async def enough() -> bool:
            return await self.facts() >= n

        await eventually(enough, timeout_s=90)

    async def get(
        self, url: str, headers: Headers = ADMIN, status: int = 200, **params: Any
    ) -> Any:
        r = await self.client.get(url, headers=headers, params=params)
        assert r.status_code == status, r.text
        return r.json()


def make_settings(database_url: str, bootstrap: str) -> Settings:
    return settings_for(
        database_url, bootstrap, service="scoring", mode="all", scheduler_interval_s=0.1
    )


@pytest.fixture(scope="module")
def scoring_settings(make_database: Callable[..., str], kafka_bootstrap: str) -> Settings:
    return make_settings(make_database("scoring"), kafka_bootstrap)


@pytest.fixture(scope="module")
async def api(scoring_settings: Settings) -> AsyncIterator[Api]:
    clock = FixedClock(START)
    app = create_app(scoring_settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
            yield Api(client, app, clock, scoring_settings)
