"""Running a command from a request: retries on a version clash, Idempotency-Key replay."""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic_core import to_json

from shared.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    SightlineError,
    ValidationFailedError,
)
from shared.http.headers import header
from shared.http.problems import MEDIA_TYPE, problem_body
from shared.identity import Principal
from shared.store.idempotency import IdempotencyStore, StoredResponse

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
MAX_ATTEMPTS = 6
U = TypeVar("U", bound="CommandUnitOfWork")


@dataclass
class CommandResult:
    """What a handler answers. `error` is a refusal that is still recorded (e.g. a blocked gate)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    error: SightlineError | None = None


class CommandUnitOfWork(Protocol):
    @property
    def idempotency(self) -> IdempotencyStore: ...

    async def __aenter__(self) -> Self: ...

    async def begin(self) -> None: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...


def _respond(stored: StoredResponse, replayed: bool = False) -> Response:
    headers = dict(stored.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    media = MEDIA_TYPE if stored.status_code >= 400 else "application/json"
    # the body is JSON data already (a view, a problem, or a stored answer read back): encoded
    # by pydantic-core, compact and UTF-8 as JSONResponse writes it, several times faster
    body = to_json(stored.body, inf_nan_mode="null")
    return Response(body, stored.status_code, headers=headers, media_type=media)


async def execute(
    request: Request,
    actor: Principal,
    uow_factory: Callable[[], U],
    handler: Callable[[U], Awaitable[CommandResult]],
    *,
    retry_on_conflict: bool = True,
) -> Response:
    key = header(request, "idempotency-key")
    if key is not None and not _KEY.match(key):
        raise ValidationFailedError(
            "Idempotency-Key must be 1-200 visible ASCII characters", field="Idempotency-Key"
        )
    path = request_path(request)
    scope = f"{actor.sub}:{request.method}:{path}"
    digest = hashlib.sha256(await request.body()).hexdigest() if key is not None else ""

    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with uow_factory() as uow:
                if key is not None:
                    # the key's claim, the command and the stored answer are kept together
                    await uow.begin()
                    # before any check of the command (If-Match, gates): a retry of a command
                    # that succeeded gets its answer, and a concurrent twin waits for it
                    stored = await uow.idempotency.claim(scope, key)
                    if stored is not None:
                        return _replay(stored, digest)
                result = await handler(uow)
                body = problem_body(result.error) if result.error else result.body
                if result.error is not None:
                    body["instance"] = path
                answer = StoredResponse(digest, result.status, body, result.headers)
                if key is not None and not await uow.idempotency.put(scope, key, answer):
                    raise ConcurrencyError("the Idempotency-Key was stored meanwhile")
                await uow.commit()
                return _respond(answer)
        except ConcurrencyError:
            if not retry_on_conflict or attempt == MAX_ATTEMPTS:
                raise
            # jittered backoff lets racing writers on one hot stream spread out
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311
    raise ConcurrencyError("the command raced with another; retry")


def request_path(request: Request) -> str:
    """`request.url.path`, without building the whole URL (its host header, a urlsplit)."""
    path: str = request.scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _replay(stored: StoredResponse, digest: str) -> Response:
    if stored.request_hash != digest:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used with a different request body"
        )
    return _respond(stored, replayed=True)
