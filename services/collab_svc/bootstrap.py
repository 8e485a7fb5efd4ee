"""Composition root of collab_svc (org directory, accounts, contact requests): runtime skeleton for now."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

import shared.contracts  # noqa: F401 - registers the event catalogue
from shared.clock import Clock, SystemClock
from shared.http.app import build_app
from shared.runtime.lifespan import no_workers, service_lifespan
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    return build_app(
        settings,
        title="Sightline collaboration",
        description="Org directory, group customer master file (集团客户主档案) and contact requests (协作申请).",
        version="0.1.0",
        lifespan=service_lifespan(settings, MIGRATIONS, clock or SystemClock(), no_workers),
    )
