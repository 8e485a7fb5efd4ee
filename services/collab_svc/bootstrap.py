"""Composition root of collab_svc: org directory, accounts, contact requests, timeline, conflicts."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

import shared.contracts  # noqa: F401 - registers the event catalogue
from services.collab_svc.application.uow import CollabUnitOfWork
from services.collab_svc.entrypoints.api import accounts, conflicts, contact_requests, org, timeline
from services.collab_svc.entrypoints.consumers import runners
from services.collab_svc.entrypoints.scheduler import GrantExpiryScheduler
from shared.business_time import BusinessTimePolicy
from shared.clock import Clock, SystemClock
from shared.context import Context, context_for
from shared.events.registry import registry
from shared.http.app import build_app
from shared.identity import Principal
from shared.runtime.lifespan import service_lifespan
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


class CollabService:
    """What the routes need: a unit-of-work factory and the clock."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock, policy: BusinessTimePolicy | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.policy = policy or BusinessTimePolicy()

    def uow(self) -> CollabUnitOfWork:
        return CollabUnitOfWork(self.engine, registry, self.clock)

    def context(
        self,
        actor: Principal,
        expected_version: int | None = None,
        occurred_at: datetime | None = None,
        *,
        activity: bool = False,
    ) -> Context:
        """The command's context; `occurred_at` (business time) is checked by the policy."""
        at = None
        if occurred_at is not None:
            at = self.policy.resolve(actor, occurred_at, self.clock.now(), activity=activity)
        return context_for(actor, self.clock, expected_version, at)


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()

    async def setup(app: FastAPI, engine: AsyncEngine) -> list[Coroutine[Any, Any, None]]:
        svc = CollabService(engine, clock, settings.business_time_policy())
        app.state.collab = svc
        consumers = runners.build(engine, settings, registry, clock)
        expiry = GrantExpiryScheduler(svc.uow, clock, settings.scheduler_interval_s)
        app.state.consumers = consumers
        app.state.grant_expiry = expiry
        return [*(c.run() for c in consumers), expiry.run()]

    return build_app(
        settings,
        title="Sightline collaboration",
        description=(
            "Org directory, group customer master file (集团客户主档案), the cross-region customer "
            "timeline, contact requests (协作申请) and cross-region conflicts (跨区冲突). "
            "Commands accept `Idempotency-Key` and `If-Match`."
        ),
        version="1.0.0",
        lifespan=service_lifespan(settings, MIGRATIONS, clock, setup),
        routers=[m.router for m in (org, accounts, contact_requests, timeline, conflicts)],
    )
