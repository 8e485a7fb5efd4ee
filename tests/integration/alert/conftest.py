"""The alert app in-process with its lifespan (relay, consumers, scheduler) on real servers, fed
pipeline and collab events as CloudEvents on their topics, with backdated business time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from services.alert_svc.bootstrap import AlertService, create_app
from shared.auth import issue_token
from shared.clock import FixedClock
from shared.contracts import collab as cv
from shared.events.base import DomainEvent
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope, Metadata
from shared.messaging.kafka import ensure_topics
from shared.settings import DEV_JWT_SECRET, Settings
from tests.support import eventually, settings_for
from tests.unit.alert.builders import Deal

Headers = dict[str, str]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Org:
    """A fresh region with one team: a rep managed by a supervisor, and a regional manager."""

    def __init__(self) -> None:
        self.region = unique("r")
        self.team = f"{self.region}-1"
        self.rep, self.sup, self.rm = unique("rep"), unique("sup"), unique("rm")

    def members(self, at: datetime) -> list[DomainEvent]:
        def member(mid: str, role: str, manager: str | None) -> cv.MemberAssigned:
            return cv.MemberAssigned(
                occurred_at=at,
                member_id=mid,
                name=mid,
                role=role,  # type: ignore[arg-type]
                region_id=self.region,
                team_id=self.team,
                manager_id=manager,
                actor_id="admin-1",
            )

        return [
            member(self.rm, "regional_manager", None),
            member(self.sup, "supervisor", self.rm),
            member(self.rep, "rep", self.sup),
        ]

    def deal(self) -> Deal:
        deal = Deal(unique("opp"), region=self.region, owner=self.rep)
        deal.ids["account_id"] = unique("acct")
        return deal


class Api:
    def __init__(self, client: httpx.AsyncClient, app: Any, clock: FixedClock, settings: Settings):
        self.client, self.app, self.clock, self.settings = client, app, clock, settings
        self.versions: dict[str, int] = {}

    @property
    def svc(self) -> AlertService:
        return self.app.state.alert  # type: ignore[no-any-return]

    def as_(self, sub: str, role: str, region: str, team: str = "") -> Headers:
        token = issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team or region)
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> Headers:
        return self.as_("admin-1", "admin", "hq", "hq")

    async def ok(self, method: str, url: str, who: Headers, status: int = 200, **kw: Any) -> Any:
        r = await self.client.request(method, url, headers=who, **kw)
        assert r.status_code == status, r.text
        return r.json()

    async def publish(self, domain: str, *events: DomainEvent) -> None:
        """As the other services' relays do: CloudEvents, keyed by account (else stream)."""
        topic = self.settings.topic(domain)
        bootstrap = self.settings.kafka_bootstrap_servers or ""
        await ensure_topics(bootstrap, [topic], self.settings.topic_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for e in events:
                stream = getattr(e, "opportunity_id", None) or getattr(e, "member_id", "x")
                self.versions[stream] = self.versions.get(stream, 0) + 1
                env = Envelope(
                    event_id=uuid.uuid4(),
                    stream_id=stream,
                    stream_type=domain,
                    version=self.versions[stream],
                    event=e,
                    recorded_at=self.clock.now(),
                    key=getattr(e, "account_id", None) or stream,
                    metadata=Metadata(actor="test"),
                )
                rec = encode(env, f"/sightline/{domain}")
                await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)
        finally:
            await producer.stop()

    async def org(self) -> Org:
        org = Org()
        await self.publish("collab", *org.members(self.clock.now()))
        await eventually(
            lambda: self.scalar(
                "SELECT count(*) FROM alert_members WHERE region = :r", r=org.region
            ),
            timeout_s=60,
        )
        return org

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.svc.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()

    async def alerts(
        self, opportunity_id: str, rule_id: str, status: str | None = None
    ) -> list[Any]:
        params = {"opportunity_id": opportunity_id, "rule_id": rule_id}
        if status:
            params["status"] = status
        body = await self.ok("GET", "/alerts", self.admin, params=params)
        return body["items"]  # type: ignore[no-any-return]

    async def wait_alert(self, opportunity_id: str, rule_id: str, status: str = "raised") -> Any:
        async def found() -> Any:
            items = await self.alerts(opportunity_id, rule_id, status)
            return items[0] if items else None

        return await eventually(found, timeout_s=60)

    async def wait_consumed(self, opportunity_id: str, count: int) -> None:
        sql = "SELECT count(*) FROM alert_opportunity_events WHERE opportunity_id = :o"
        await eventually(lambda: self._at_least(sql, count, o=opportunity_id), timeout_s=60)

    async def _at_least(self, sql: str, count: int, **params: Any) -> bool:
        return int(await self.scalar(sql, **params) or 0) >= count

    async def stream(self, stream_id: str) -> list[str]:
        async with self.svc.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT event_name FROM events WHERE stream_id = :s ORDER BY version"),
                {"s": stream_id},
            )
            return [r.event_name for r in rows]


@pytest.fixture(scope="module")
async def api(make_database: Callable[..., str], kafka_bootstrap: str) -> AsyncIterator[Api]:
    """One app per module; each test makes its own region and deals."""
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    settings = settings_for(
        make_database("alert"),
        kafka_bootstrap,
        service="alert",
        mode="all",
        scheduler_interval_s=0.1,
    )
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alert") as client:
            yield Api(client, app, clock, settings)
