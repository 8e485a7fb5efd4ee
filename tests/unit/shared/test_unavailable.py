"""A database or broker fault during a request is a 503 problem the client may retry; a bug is a 500."""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from shared.http.middleware import SightlineMiddleware
from shared.http.problems import install


def _app() -> FastAPI:
    app = FastAPI()
    install(app)
    app.add_middleware(SightlineMiddleware, service="test", max_body_bytes=1000)

    @app.post("/database-away")
    async def database_away() -> None:
        cause = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        raise OperationalError("SELECT 1", {}, cause) from cause

    @app.post("/bug")
    async def bug() -> None:
        raise ZeroDivisionError("a real bug")

    return app


async def _post(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, headers={"X-Correlation-Id": "cid-123"})


async def test_a_database_fault_answers_503_with_retry_after_and_the_correlation_id() -> None:
    answer = await _post("/database-away")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["x-correlation-id"] == "cid-123"
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == 503
    assert body["type"].endswith("service-unavailable")


async def test_an_unexpected_error_is_still_a_500() -> None:
    answer = await _post("/bug")
    assert answer.status_code == 500
    assert answer.headers["x-correlation-id"] == "cid-123"
    assert answer.json()["type"].endswith("internal-error")
