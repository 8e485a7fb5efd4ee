"""One service process: `sightline serve SERVICE [--role api|worker|all]`.

`api` serves the business API and appends events; `worker` runs the outbox relay, the
consumers and the schedulers and answers only `/healthz`, `/readyz` and `/metrics`; `all`
does both in one process. The role defaults to `SIGHTLINE_MODE`, else `all`.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from typing import get_args

import uvicorn

from shared.db import make_engine
from shared.messaging.relay import republish_all
from shared.observability import configure_logging
from shared.runtime.allocator import set_mmap_threshold
from shared.settings import Role, Settings

SERVICES = ("pipeline", "scoring", "alert", "collab")


ROLES: tuple[Role, ...] = get_args(Role)


def _settings(service: str, role: str | None = None) -> Settings:
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    if role is not None and role not in ROLES:
        raise SystemExit(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    settings = Settings(service=service) if role is None else Settings(service=service, mode=role)
    if not settings.database_url or not settings.kafka_bootstrap_servers:
        raise SystemExit(
            "DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS must be set (or use `sightline up`)"
        )
    return settings


def serve(service: str, role: str | None = None) -> None:
    """Run one process of `service` in `role` (None: `SIGHTLINE_MODE`) until SIGTERM/Ctrl-C."""
    settings = _settings(service, role)
    set_mmap_threshold(settings.malloc_mmap_threshold_bytes)
    configure_logging(service, settings.log_level, settings.log_json)
    logging.getLogger(__name__).info(
        "starting %s as %s on %s:%d", service, settings.mode, settings.host, settings.http_port
    )
    bootstrap = importlib.import_module(f"services.{service}_svc.bootstrap")
    app = bootstrap.create_app(settings)
    # what is built by now (modules, schemas, routes) lives as long as the process: out of
    # the collector's sight, a full collection walks only what requests and caches create
    # (about 140,000 objects and 80 ms less per full collection in the pipeline)
    gc.collect()
    gc.freeze()
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
