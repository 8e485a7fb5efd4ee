"""The alert app in-process (dispatcher and delivery worker running), a local webhook receiver."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.alert_svc.bootstrap import create_app
from shared.auth import issue_token
from shared.contracts.collab import CrossRegionConflictDetected
from shared.events.base import DomainEvent
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope, Metadata
from shared.messaging.kafka import ensure_topics
from shared.settings import DEV_JWT_SECRET, Settings
from tests.support import eventually, settings_for

Headers = dict[str, str]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request per path; answers each path's planned statuses, then 200."""

    port: int = 0
    requests: dict[str, list[Received]] = field(default_factory=dict)
    plans: dict[str, list[int]] = field(default_factory=dict)
    delay_s: dict[str, float] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def at(self, path: str) -> list[Received]:
        return self.requests.get(path, [])

    async def hook(self, request: Request) -> Response:
        path = request.path_params["path"]
        body = await request.body()
        self.requests.setdefault(path, []).append(Received(dict(request.headers), body))
        if path in self.delay_s:
            await asyncio.sleep(self.delay_s[path])
        plan = self.plans.get(path)
        status = plan.pop(0) if plan else 200
        return Response(f"answer {status}", status_code=status)


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    found = Receiver(port=sock.getsockname()[1])
    app = Starlette(routes=[Route("/{path:path}", found.hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield found
    server.should_exit = True
    await task


def webhook_settings(database_url: str, bootstrap: str, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "service": "alert",
        "mode": "all",
        "webhook_allowed_hosts": f"127.0.0.1:{port}",
        "webhook_max_attempts": 4,
        "webhook_base_delay_s": 0.05,
        "webhook_max_delay_s": 0.2,
        "webhook_poll_interval_s": 0.05,
        "webhook_timeout_s": 5.0,
    }
    values.update(overrides)
    settings = settings_for(database_url, bootstrap, **values)
    return settings.model_copy(update={"webhook_extra_topics": settings.topic("collab")})


class Api:
    def __init__(self, client: httpx.AsyncClient, app: Any, settings: Settings) -> None:
        self.client = client
        self.app = app
        self.settings = settings

    def as_(self, role: str, region: str) -> Headers:
        token = issue_token(
            DEV_JWT_SECRET, sub=f"{role}-{region}", role=role, region=region, team=f"{region}-1"
        )
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> Headers:
        return self.as_("admin", "hq")

    def manager(self, region: str) -> Headers:
        return self.as_("regional_manager", region)

    async def ok(self, method: str, url: str, who: Headers, status: int = 200, **kw: Any) -> Any:
        r = await self.client.request(method, url, headers=who, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    async def subscribe(
        self, url: str, *types: str, region: str | None = None, who: Headers | None = None
    ) -> dict[str, Any]:
        body = {"url": url, "event_types": list(types or ("*",)), "region": region}
        return await self.ok("POST", "/webhooks", who or self.admin, 201, json=body)  # type: ignore[no-any-return]

    async def deliveries(self, subscription_id: str, **params: Any) -> list[dict[str, Any]]:
        page = await self.ok(
            "GET", f"/webhooks/{subscription_id}/deliveries", self.admin, params=params
        )
        return page["items"]  # type: ignore[no-any-return]

    async def wait_deliveries(
        self, subscription_id: str, done: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        async def check() -> list[dict[str, Any]] | None:
            items = await self.deliveries(subscription_id)
            return items if done(items) else None

        return await eventually(check, timeout_s=60)  # type: ignore[no-any-return]

    async def publish(self, *envelopes: Envelope, topic: str | None = None) -> None:
        """Send events as a relay would: CloudEvents in binary mode on `topic` (alert.events)."""
        topic = topic or self.settings.topic("alert")
        bootstrap = self.settings.kafka_bootstrap_servers or ""
        await ensure_topics(bootstrap, [topic], self.settings.topic_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for env in envelopes:
                rec = encode(env, f"/sightline/{env.event.domain}")
                await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)
        finally:
            await producer.stop()

    async def consumed(self, *envelopes: Envelope) -> None:
        """Wait until the dispatcher's inbox holds every one of these events."""
        ids = [str(e.event_id) for e in envelopes]
        group = self.app.state.webhook_dispatcher.group_id

        async def all_in() -> bool:
            async with self.app.state.webhooks.engine.connect() as conn:
                n = await conn.execute(
                    text(
                        "SELECT count(*) FROM inbox WHERE consumer = :g"
                        " AND event_id = ANY(CAST(:ids AS uuid[]))"
                    ),
                    {"g": group, "ids": ids},
                )
                return n.scalar() == len(ids)

        await eventually(all_in, timeout_s=60)


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def conflict(region: str | None, account: str = "acct-w") -> Envelope:
    """A CrossRegionConflictDetected with `region` in its metadata (ce_region), if any."""
    now = datetime.now(UTC)
    event = CrossRegionConflictDetected(
        occurred_at=now,
        conflict_id=f"cf-{uuid.uuid4().hex[:8]}",
        account_id=account,
        owning_region="north",
        contact_region=region or "unknown",
        actor_id="rep-x",
        opportunity_id="opp-1",
        activity_id=f"act-{uuid.uuid4().hex[:8]}",
        activity_kind="visit",
        source="manual",
        contact_at=now,
    )
    return envelope(event, region, account)


def envelope(event: DomainEvent, region: str | None, key: str = "acct-w") -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        stream_id=f"conflict-{uuid.uuid4().hex[:8]}",
        stream_type="conflict",
        version=1,
        event=event,
        recorded_at=datetime.now(UTC),
        key=key,
        metadata=Metadata(correlation_id="corr-1", actor="system", region=region),
    )


@pytest.fixture(scope="module")
async def api(
    make_database: Callable[..., str], kafka_bootstrap: str, receiver: Receiver
) -> AsyncIterator[Api]:
    settings = webhook_settings(make_database("alert"), kafka_bootstrap, receiver.port)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alert") as client:
            yield Api(client, app, settings)
