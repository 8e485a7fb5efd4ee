"""RFC 9457 problem details: every error any service returns has this one shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.errors import SightlineError
from shared.observability import correlation_id

PROBLEM_TYPE_BASE = "https://sightline.dev/problems/"
MEDIA_TYPE = "application/problem+json"
UNREADABLE_BODY = "unreadable-body"


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
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, UTF-16 or UTF-32 JSON)
            return problem(
                400,
                UNREADABLE_BODY,
                "The request body cannot be read",
                "the body must be JSON encoded as UTF-8",
                request.url.path,
            )
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        response = problem(
            exc.status_code, slug, str(exc.detail), str(exc.detail), request.url.path
        )
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(sorted(allowed_methods(request)))
        return response


def allowed_methods(request: Request) -> set[str]:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    allowed: set[str] = set()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.add(method)
    return allowed


def internal_error(instance: str) -> JSONResponse:
    """The 500 problem; the middleware sends it (with the correlation id) and logs the cause."""
    return problem(
        500,
        "internal-error",
        "Internal error",
        "an unexpected error occurred; quote the correlation id when reporting it",
        instance,
    )


#: seconds a client is asked to wait before retrying while a dependency is away
RETRY_AFTER_S = 1


def unavailable(instance: str) -> JSONResponse:
    """The 503 problem for a database or broker fault: nothing was written, retry the command."""
    response = problem(
        503,
        "service-unavailable",
        "Service unavailable",
        "a dependency (database or broker) is unavailable for a moment; nothing was changed, "
        "retry the request (with the same Idempotency-Key)",
        instance,
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
