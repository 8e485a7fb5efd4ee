"""Pure ASGI middleware: correlation id, request body limit, latency metrics."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PayloadTooLargeError
from shared.http.problems import from_error, internal_error, unavailable
from shared.ids import uuid4_text
from shared.messaging.faults import is_transient
from shared.observability import REQUEST_LATENCY, correlation_id, labelled

log = logging.getLogger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class SightlineMiddleware:
    """One pass per request: sets the correlation id, caps the body, records latency."""

    def __init__(self, app: ASGIApp, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given, length = "", None
        for key, value in scope["headers"]:
            name = key.lower()
            if name == b"x-correlation-id":
                given = value.decode("latin-1")
            elif name == b"content-length":
                length = value.decode("latin-1")
        cid = given if _SAFE_ID.match(given) else uuid4_text()
        token = correlation_id.set(cid)
        started = time.perf_counter()
        status = {"code": 500, "started": 0}
        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                resp = from_error(
                    PayloadTooLargeError(f"the body exceeds {self.max_body} bytes"), scope["path"]
                )
                status["code"] = 413
                await resp(scope, receive, send)
                return

            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body:
                        raise PayloadTooLargeError(f"the body exceeds {self.max_body} bytes")
                return message

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status["code"], status["started"] = message["status"], 1
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"x-correlation-id", cid.encode()),
                    ]
                await send(message)

            try:
                await self.app(scope, limited_receive, send_with_id)
            except Exception as exc:
                if is_transient(exc) and not status["started"]:
                    # the database or broker is away for a moment: the client should retry
                    log.warning(
                        "unavailable on %s %s: %s",
                        scope["method"],
                        scope["path"],
                        type(exc).__name__,
                        extra={"correlation_id": cid},
                    )
                    await unavailable(scope["path"])(scope, receive, send_with_id)
                    return
                # inside the correlation scope: the log line, the header and the body all carry it
                log.exception(
                    "unhandled error on %s %s",
                    scope["method"],
                    scope["path"],
                    extra={"correlation_id": cid},
                )
                if status["started"]:
                    raise
                await internal_error(scope["path"])(scope, receive, send_with_id)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", "unmatched")
            labelled(
                REQUEST_LATENCY, self.service, scope["method"], path, str(status["code"])
            ).observe(time.perf_counter() - started)
            correlation_id.reset(token)
