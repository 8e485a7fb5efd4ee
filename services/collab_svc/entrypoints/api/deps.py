"""Dependencies of the collab routes: the application service, If-Match, running a command."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Path, Request, Response

from services.collab_svc.application.handlers import Context, Outcome
from services.collab_svc.application.uow import CollabUnitOfWork
from shared.errors import ValidationFailedError
from shared.http.commands import CommandResult, execute
from shared.identity import Principal

if TYPE_CHECKING:
    from services.collab_svc.bootstrap import CollabService

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')
Step = Callable[[CollabUnitOfWork, Context], Awaitable[Outcome]]


def service(request: Request) -> CollabService:
    return request.app.state.collab  # type: ignore[no-any-return]


def if_match(
    if_match: Annotated[
        str | None, Header(description='expected version, e.g. "3" (from the ETag)')
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if not found:
        raise ValidationFailedError('If-Match must be a version ETag such as "3"', field="If-Match")
    return int(found.group(1))


Collab = Annotated["CollabService", Depends(service)]
IfMatch = Annotated[int | None, Depends(if_match)]
PathId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]


async def run_command(
    request: Request,
    svc: CollabService,
    actor: Principal,
    step: Step,
    *,
    expected: int | None = None,
    status: int = 200,
    location: str | None = None,
) -> Response:
    """One command through `execute`: Idempotency-Key replay, retry on a clash, ETag."""

    async def handler(uow: CollabUnitOfWork) -> CommandResult:
        outcome = await step(uow, svc.context(actor, expected))
        headers = {"ETag": f'"{outcome.version}"'}
        if location:
            headers["Location"] = location
        return CommandResult(status, outcome.view, headers)

    return await execute(request, actor, svc.uow, handler, retry_on_conflict=expected is None)
