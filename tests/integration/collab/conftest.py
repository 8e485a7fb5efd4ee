"""The collab app in-process with its lifespan (relay, consumers, expiry scheduler) on real servers."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from services.collab_svc.bootstrap import create_app
from shared.auth import issue_token
from shared.clock import FixedClock
from shared.events.base import DomainEvent
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope, Metadata
from shared.messaging.kafka import ensure_topics
from shared.settings import DEV_JWT_SECRET, Settings
from tests.support import eventually, settings_for

Headers = dict[str, str]


class Api:
    """An HTTP client acting as given members, plus the clock and the broker behind the app."""

    def __init__(
        self, client: httpx.AsyncClient, app: Any, clock: FixedClock, settings: Settings
    ) -> None:
        self.client = client
        self.app = app
        self.clock = clock
        self.settings = settings

    def as_(
        self, sub: str = "rep-1", role: str = "rep", region: str = "east", team: str = "east-1"
    ) -> Headers:
        token = issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team)
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> Headers:
        return self.as_("admin-1", "admin", "hq", "hq")

    def manager(self, region: str) -> Headers:
        return self.as_(f"rm-{region}", "regional_manager", region, f"{region}-1")

    def supervisor(self, region: str) -> Headers:
        return self.as_(f"sup-{region}", "supervisor", region, f"{region}-1")

    def rep(self, region: str, sub: str | None = None) -> Headers:
        return self.as_(sub or f"rep-{region}", "rep", region, f"{region}-1")

    async def ok(self, method: str, url: str, who: Headers, status: int = 200, **kw: Any) -> Any:
        r = await self.client.request(method, url, headers=who, **kw)
        assert r.status_code == status, r.text
        return r.json()

    async def regions(self, *ids: str) -> None:
        """Define each region (if new) with one team `<region>-1`."""
        for rid in ids:
            r = await self.client.post(
                "/org/regions", json={"region_id": rid, "name": rid.title()}, headers=self.admin
            )
            assert r.status_code in (201, 409), r.text
            r = await self.client.post(
                "/org/teams",
                json={"team_id": f"{rid}-1", "region_id": rid, "name": f"{rid} team"},
                headers=self.admin,
            )
            assert r.status_code in (201, 409), r.text

    async def account(
        self, region: str = "east", group_id: str | None = None, **body: Any
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "account_id": unique("acct"),
            "name": "Acme",
            "owning_region": region,
            "group_id": group_id,
        }
        payload.update(body)
        return await self.ok("POST", "/accounts", self.manager(region), 201, json=payload)  # type: ignore[no-any-return]

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.app.state.collab.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()

    async def event_count(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM events") or 0)

    async def stream(self, stream_id: str) -> list[str]:
        async with self.app.state.collab.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT event_name FROM events WHERE stream_id = :s ORDER BY version"),
                {"s": stream_id},
            )
            return [r.event_name for r in rows]

    async def publish(self, *envelopes: Envelope, topic: str | None = None) -> None:
        """Send events as the pipeline's relay would: CloudEvents on `pipeline.events`."""
        topic = topic or self.settings.topic("pipeline")
        bootstrap = self.settings.kafka_bootstrap_servers or ""
        await ensure_topics(bootstrap, [topic], self.settings.topic_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for env in envelopes:
                rec = encode(env, "/sightline/pipeline")
                await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)
        finally:
            await producer.stop()

    async def timeline(self, account_id: str, who: Headers | None = None, **params: Any) -> Any:
        return await self.ok(
            "GET", f"/accounts/{account_id}/timeline", who or self.rep("north"), params=params
        )

    async def wait_timeline(self, account_id: str, count: int, **params: Any) -> list[Any]:
        async def enough() -> list[Any] | None:
            r = await self.client.get(
                f"/accounts/{account_id}/timeline",
                params={"limit": 200, **params},
                headers=self.rep("north"),
            )
            if r.status_code == 404:  # neither registered nor any event consumed yet
                return None
            assert r.status_code == 200, r.text
            items: list[Any] = r.json()["items"]
            return items if len(items) >= count else None

        return await eventually(enough, timeout_s=60)  # type: ignore[no-any-return]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


CLAIMS = {"sub": "rep-1", "role": "rep", "region": "east", "team": "east-1"}


def forged_tokens() -> dict[str, str]:
    """Tokens a server must refuse: wrong key, no algorithm, expired, edited, incomplete."""
    now = int(time.time())
    signed = jwt.encode({**CLAIMS, "exp": now + 600}, DEV_JWT_SECRET)
    header, _, sig = signed.split(".")
    claims_south = _b64({**CLAIMS, "region": "south", "role": "admin", "exp": now + 600})
    return {
        "bad signature": jwt.encode(
            {**CLAIMS, "exp": now + 600}, "not-the-secret-but-long-enough-0123456789"
        ),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**CLAIMS, 'exp': now + 600})}.",
        "expired": jwt.encode({**CLAIMS, "exp": now - 3600}, DEV_JWT_SECRET),
        "tampered region and role": f"{header}.{claims_south}.{sig}",
        "missing role": jwt.encode(
            {"sub": "x", "region": "east", "team": "t", "exp": now + 600}, DEV_JWT_SECRET
        ),
        "garbage": "not.a.token",
    }


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def envelope(event: DomainEvent, stream_id: str, version: int = 1, **meta: str) -> Envelope:
    account: str = getattr(event, "account_id", stream_id)
    return Envelope(
        event_id=uuid.uuid4(),
        stream_id=stream_id,
        stream_type=stream_id.split("-", 1)[0],
        version=version,
        event=event,
        recorded_at=datetime.now(UTC),
        key=account,
        metadata=Metadata(**meta),
    )


@pytest.fixture(scope="module")
async def api(make_database: Callable[..., str], kafka_bootstrap: str) -> AsyncIterator[Api]:
    """One app per module (consumers join their group once); tests use unique ids."""
    clock = FixedClock(datetime.now(UTC))
    settings = settings_for(
        make_database("collab"),
        kafka_bootstrap,
        service="collab",
        mode="all",
        scheduler_interval_s=0.1,
    )
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://collab") as client:
            yield Api(client, app, clock, settings)
