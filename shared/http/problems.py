"""RFC 9457 problem details: every error any service returns has this one shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import SightlineError
from shared.observability import correlation_id

PROBLEM_TYPE_BASE = "https://sightline.dev/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    cid = correlation_id.get()
    if cid:
        body["correlation_id"] = cid
    body.update(extensions)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def problem_body(exc: SightlineError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + exc.slug,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    cid = correlation_id.get()
    if cid:
        body["correlation_id"] = cid
    body.update(exc.extensions)
    return body


def from_error(exc: SightlineError, instance: str | None = None) -> JSONResponse:
    return problem(exc.status, exc.slug, exc.title, exc.detail, instance, **exc.extensions)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def install(app: FastAPI) -> None:
    @app.exception_handler(SightlineError)
    async def _sightline(request: Request, exc: SightlineError) -> JSONResponse:
        return from_error(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": "body" if e.get("type") == "json_invalid" else _field(e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors if e["field"]}))
        return problem(
            422,
            "validation-failed",
            "The request is not valid",
            f"invalid field(s): {fields}" if fields else "the request body is not valid",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, slug, str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal-error",
            "Internal error",
            "an unexpected error occurred",
            request.url.path,
        )
