"""The pipeline app in-process (lifespan run for real) over a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.pipeline_svc.adapters.collab import apply_collab_event
from services.pipeline_svc.bootstrap import create_app
from shared.auth import issue_token
from shared.contracts.collab import AccountRegistered, MemberAssigned, Role
from shared.events.base import DomainEvent
from shared.events.envelope import Envelope
from shared.settings import DEV_JWT_SECRET
from tests.support import settings_for


class Api:
    """An HTTP client with helpers to act as a given member."""

    def __init__(self, client: httpx.AsyncClient, app: Any) -> None:
        self.client = client
        self.app = app

    def as_(
        self, sub: str = "rep-1", role: str = "rep", region: str = "east", team: str = "east-1"
    ) -> dict[str, str]:
        token = issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team)
        return {"Authorization": f"Bearer {token}"}

    async def know_account(
        self, account_id: str, region: str = "east", contacts: tuple[str, ...] = ()
    ) -> None:
        """Feed the pipeline's collab projection as its consumer would."""
        event = AccountRegistered(
            occurred_at=datetime.now(UTC),
            account_id=account_id,
            name=account_id,
            owning_region=region,
            contact_emails=[c for c in contacts if "@" in c],
            contact_phones=[c for c in contacts if "@" not in c],
            actor_id="admin",
        )
        await self.feed(event, account_id)

    async def know_member(
        self, member_id: str, region: str = "east", team: str = "east-1", role: Role = "rep"
    ) -> None:
        """Feed the pipeline's copy of the org directory as its consumer would."""
        event = MemberAssigned(
            occurred_at=datetime.now(UTC),
            member_id=member_id,
            name=member_id,
            role=role,
            region_id=region,
            team_id=team,
            actor_id="admin",
        )
        await self.feed(event, member_id)

    async def feed(self, event: DomainEvent, key: str) -> None:
        """Apply one collab event to the pipeline's projection, as its consumer does."""
        envelope = Envelope(uuid.uuid4(), f"s-{key}", "test", 1, event, datetime.now(UTC), key)
        async with self.app.state.pipeline.engine.begin() as conn:
            await apply_collab_event(conn, envelope)

    async def open(
        self, who: dict[str, str] | None = None, region: str = "east", **body: Any
    ) -> dict[str, Any]:
        payload = {
            "account_id": "acme-sh",
            "title": "Acme — 3 CNC lines",
            "amount": "1200000",
            "expected_close_date": "2027-03-31",
        }
        payload.update(body)
        await self.know_account(str(payload["account_id"]), region)
        r = await self.client.post("/opportunities", json=payload, headers=who or self.as_())
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def event_count(self) -> int:
        engine = self.app.state.pipeline.engine
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM events"))).scalar() or 0)


@pytest.fixture
async def api(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Api]:
    settings = settings_for(database_url, kafka_bootstrap, mode="api", max_body_bytes=64_000)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pipeline") as client:
            yield Api(client, app)


Who = Callable[..., dict[str, str]]
