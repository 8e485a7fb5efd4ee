"""Composition root of alert_svc (timer rules, alerts, risk reports): runtime skeleton for now."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

import shared.contracts  # noqa: F401 - registers the event catalogue
from services.alert_svc.webhooks import bootstrap as webhooks
from shared.clock import Clock, SystemClock
from shared.http.app import build_app
from shared.runtime.lifespan import no_workers, service_lifespan
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    app = build_app(
        settings,
        title="Sightline alerts",
        description="Timer rules, alerts (预警) and risk diagnosis reports (风险诊断报告).",
        version="0.1.0",
        lifespan=service_lifespan(
            settings, MIGRATIONS, clock, webhooks.around(settings, clock, no_workers)
        ),
    )
    app.include_router(webhooks.router)
    return app
