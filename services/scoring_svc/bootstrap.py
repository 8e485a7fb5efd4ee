"""Composition root of scoring_svc: health scores, KPIs, funnel and forecast from consumed events."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

import shared.contracts  # noqa: F401 - registers the event catalogue
from services.scoring_svc.adapters.facts import FactCache
from services.scoring_svc.application.health import HealthScores
from services.scoring_svc.application.uow import ScoringUnitOfWork
from services.scoring_svc.domain import calendar
from services.scoring_svc.domain.ledger import Ledger
from services.scoring_svc.entrypoints.api import forecast, health, kpis, model
from services.scoring_svc.entrypoints.consumers import runners
from services.scoring_svc.entrypoints.quarters import QuarterStartScheduler
from services.scoring_svc.entrypoints.scheduler import WeekCloseScheduler
from shared.clock import Clock, SystemClock
from shared.context import Context, context_for
from shared.events.registry import registry
from shared.http.app import build_app
from shared.identity import Principal
from shared.runtime.lifespan import service_lifespan
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


class ScoringService:
    """What the routes need: units of work, the fact cache, the clock and the org's time zone."""

    def __init__(self, engine: AsyncEngine, clock: Clock, tz: ZoneInfo) -> None:
        self.engine = engine
        self.clock = clock
        self.tz = tz
        self.facts = FactCache(engine, registry)
        self.health = HealthScores(self.facts, self.uow, clock, tz)
        self._ledger: tuple[tuple[int, int], Ledger] | None = None

    def uow(self) -> ScoringUnitOfWork:
        return ScoringUnitOfWork(self.engine, registry, self.clock)

    def context(self, actor: Principal, expected_version: int | None = None) -> Context:
        return context_for(actor, self.clock, expected_version)

    def week_after(self, label: str) -> str:
        return calendar.week_of(self.health.week(label).end + timedelta(hours=1), self.tz).label

    async def ledger(self) -> Ledger:
        """Every fact consumed so far; readers look at it as of the clock's now."""
        events = await self.facts.events()
        if self._ledger is None or self._ledger[0] != self.facts.stamp:
            self._ledger = (self.facts.stamp, Ledger.build(events))
        return self._ledger[1]


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    tz = ZoneInfo(settings.timezone)

    async def setup(app: FastAPI, engine: AsyncEngine) -> list[Coroutine[Any, Any, None]]:
        svc = ScoringService(engine, clock, tz)
        app.state.scoring = svc
        consumers = runners.build(engine, settings, registry)
        weeks = WeekCloseScheduler(svc.health, svc.uow, clock, settings.scheduler_interval_s)
        app.state.consumers = consumers
        quarters = QuarterStartScheduler(
            svc.facts, svc.uow, clock, tz, settings.scheduler_interval_s
        )
        app.state.week_scheduler = weeks
        app.state.quarter_scheduler = quarters
        return [*(c.run() for c in consumers), weeks.run(), quarters.run()]

    return build_app(
        settings,
        title="Sightline scoring",
        description=(
            "Weekly behaviour health scores (行为健康度) of reps, teams and regions, KPIs, the "
            "stage funnel with its death nodes (死亡节点), and the forecast with its backtest. "
            "Every figure is computed in business time; definitions in docs/scoring.md."
        ),
        version="1.0.0",
        lifespan=service_lifespan(settings, MIGRATIONS, clock, setup),
        routers=[m.router for m in (health, model, kpis, forecast)],
    )
