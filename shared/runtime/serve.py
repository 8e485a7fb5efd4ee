"""One service process: `sightline serve SERVICE` (api, worker or both, per SIGHTLINE_MODE)."""

from __future__ import annotations

import asyncio
import importlib

import uvicorn

from shared.db import make_engine
from shared.messaging.relay import republish_all
from shared.observability import configure_logging
from shared.settings import Settings

SERVICES = ("pipeline", "scoring", "alert", "collab")


def _settings(service: str) -> Settings:
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    settings = Settings(service=service)
    if not settings.database_url or not settings.kafka_bootstrap_servers:
        raise SystemExit(
            "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS must be set (or use `sightline up`)"
        )
    return settings


def serve(service: str) -> None:
    settings = _settings(service)
    configure_logging(service, settings.log_level, settings.log_json)
    bootstrap = importlib.import_module(f"services.{service}_svc.bootstrap")
    app = bootstrap.create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def republish(service: str) -> None:
    """Mark the whole event log unpublished; the running relay sends it again."""
    settings = _settings(service)

    async def run() -> int:
        engine = make_engine(settings.database_url or "", pool_size=1)
        try:
            return await republish_all(engine)
        finally:
            await engine.dispose()

    print(f"{asyncio.run(run())} events of {service} queued for publication")
