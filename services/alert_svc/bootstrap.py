"""Composition root of alert_svc: timer rules, deadlines, alerts, workbench, risk reports."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

import shared.contracts  # noqa: F401 - registers the event catalogue
from services.alert_svc.application import rules
from services.alert_svc.application.uow import AlertUnitOfWork
from services.alert_svc.entrypoints.api import alerts, reports, schemas, workbench
from services.alert_svc.entrypoints.api import rules as rules_api
from services.alert_svc.entrypoints.api.openapi import document_bodies
from services.alert_svc.entrypoints.consumers import runners
from services.alert_svc.entrypoints.scheduler import DeadlineScheduler
from services.alert_svc.webhooks import bootstrap as webhooks
from shared.clock import Clock, SystemClock
from shared.context import Context, context_for
from shared.errors import ConcurrencyError
from shared.events.registry import registry
from shared.http.app import build_app
from shared.identity import Principal
from shared.runtime.lifespan import service_lifespan
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


class AlertService:
    """What the routes need: a unit-of-work factory and the clock."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def uow(self) -> AlertUnitOfWork:
        return AlertUnitOfWork(self.engine, registry, self.clock)

    def context(self, actor: Principal, expected_version: int | None = None) -> Context:
        return context_for(actor, self.clock, expected_version)

    async def seed(self) -> list[str]:
        """The seed rules, as events, on the first start (a racing replica's seeding wins)."""
        try:
            async with self.uow() as uow:
                created = await rules.seed(uow.tx, self.clock.now())
                await uow.commit()
        except ConcurrencyError:
            return []
        if created:
            log.info("seed rules defined: %s", ", ".join(created))
        return created


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()

    async def setup(app: FastAPI, engine: AsyncEngine) -> list[Coroutine[Any, Any, None]]:
        svc = AlertService(engine, clock)
        app.state.alert = svc
        await svc.seed()
        consumers = runners.build(engine, settings, registry, clock)
        scheduler = DeadlineScheduler(svc.uow, clock, min(settings.scheduler_interval_s, 1.0))
        app.state.consumers = consumers
        app.state.scheduler = scheduler
        return [*(c.run() for c in consumers), scheduler.run()]

    app = build_app(
        settings,
        title="Sightline alerts",
        description=(
            "Timer rules as data, alerts (预警) and their lifecycle, the manager's workbench "
            "(工作台) and risk diagnosis reports (风险诊断报告). Commands accept `Idempotency-Key`."
        ),
        version="1.0.0",
        lifespan=service_lifespan(
            settings, MIGRATIONS, clock, webhooks.around(settings, clock, setup)
        ),
        routers=[m.router for m in (rules_api, alerts, workbench, reports, webhooks)],
    )
    document_bodies(app, [schemas.RuleCreate, schemas.AcknowledgeBody, schemas.ResolveBody])
    return app
