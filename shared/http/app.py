"""The FastAPI app every service is built on: problems, middleware, auth, health, contracts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.auth import TokenVerifier
from shared.events.registry import registry
from shared.events.schema import all_schemas, asyncapi
from shared.http import health, problems
from shared.http.inputs import reject_unstorable
from shared.http.middleware import SightlineMiddleware
from shared.http.problems import problem
from shared.settings import Settings

log = logging.getLogger(__name__)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def verifier_for(settings: Settings) -> TokenVerifier:
    return TokenVerifier(
        algorithm=settings.jwt_algorithm,
        secret=settings.secret() if settings.jwt_algorithm == "HS256" else None,
        jwks_url=settings.jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        leeway_s=settings.jwt_leeway_s,
    )


def build_app(
    settings: Settings,
    *,
    title: str,
    description: str,
    version: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The service's app; `routers` (its own routes, the busiest first) are matched before the
    health and contract routes, since a request is matched against routes in order."""
    worker = settings.mode == "worker"
    app = FastAPI(
        title=title,
        openapi_url=None if worker else "/openapi.json",
        description=description,
        version=version,
        lifespan=lifespan,
        separate_input_output_schemas=False,
        dependencies=[Depends(reject_unstorable)],
        # FastAPI's OpenTelemetry hooks look the global providers up on every request; with no
        # OpenTelemetry SDK installed they can never be on. Request metrics, correlation ids and
        # logs are SightlineMiddleware's.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.verifier = verifier_for(settings)
    app.state.readiness = {}
    problems.install(app)
    if worker:  # inside SightlineMiddleware: correlation ids and request metrics still apply
        app.add_middleware(OperationsOnly)
    app.add_middleware(
        SightlineMiddleware, service=settings.service, max_body_bytes=settings.max_body_bytes
    )
    for router in routers:
        app.include_router(router)
    app.include_router(health.router)
    topic = settings.topic(settings.service)

    @app.get("/asyncapi.json", tags=["contracts"], operation_id="asyncapi", include_in_schema=False)
    async def asyncapi_doc() -> JSONResponse:
        return JSONResponse(asyncapi(registry, settings.service, topic, f"{title} events"))

    @app.get("/schemas/events", tags=["contracts"], operation_id="eventSchemas")
    async def event_schemas() -> dict[str, Any]:
        """JSON Schema of every event type in the catalogue."""
        return all_schemas(registry)

    return app


#: what a worker process answers over HTTP: probes and metrics, nothing of the business API
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class OperationsOnly:
    """A worker's HTTP surface: `/healthz`, `/readyz` and `/metrics`; anything else is 404.

    A worker process listens for its probes and for the relay's and consumers' metrics,
    which live in its memory. Everything else, the API and its docs included, answers 404
    there, so a load balancer or client pointed at a worker by mistake learns it at once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPERATIONS_PATHS:
            detail = "a worker process serves only /healthz, /readyz and /metrics"
            await problem(404, "not-found", "Not Found", detail, scope["path"])(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


async def tcp_reachable(bootstrap: str) -> None:
    """Readiness of the broker: one of the bootstrap servers accepts a connection."""
    last: Exception | None = None
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.open_connection(host or "127.0.0.1", int(port))
            writer.close()
            await writer.wait_closed()
            return
        except OSError as exc:
            last = exc
    raise ConnectionError(f"no broker reachable at {bootstrap}: {last}")


async def cancel_all(tasks: list[asyncio.Task[Any]], grace_s: float = 15.0) -> None:
    """Cancel background work; a task that will not finish in time is left behind, logged."""
    for t in tasks:
        t.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for t in pending:
        log.error("background task %s did not stop within %.0fs", t.get_name(), grace_s)
