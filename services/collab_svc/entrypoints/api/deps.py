"""Dependencies of the collab routes: the application service, If-Match, running a command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Request, Response

from services.collab_svc.application.handlers import Outcome
from services.collab_svc.application.uow import CollabUnitOfWork
from services.collab_svc.domain import permissions
from shared.context import Context
from shared.http.auth import CurrentPrincipal
from shared.http.commands import CommandResult, execute
from shared.identity import Principal

if TYPE_CHECKING:
    from services.collab_svc.bootstrap import CollabService

Step = Callable[[CollabUnitOfWork, Context], Awaitable[Outcome]]


async def service(request: Request) -> CollabService:
    return request.app.state.collab  # type: ignore[no-any-return]


Collab = Annotated["CollabService", Depends(service)]
PathId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]


async def reader(actor: CurrentPrincipal) -> Principal:
    """Readers of the directory, accounts and requests: every member; not the importer."""
    permissions.require_read(actor)
    return actor


Reader = Annotated[Principal, Depends(reader)]


async def run_command(
    request: Request,
    svc: CollabService,
    actor: Principal,
    step: Step,
    *,
    expected: int | None = None,
    status: int = 200,
    location: str | None = None,
    occurred_at: datetime | None = None,
) -> Response:
    """One command through `execute`: Idempotency-Key replay, retry on a clash, ETag.

    `occurred_at` is the business time the caller gave (checked by the service's policy).
    """

    async def handler(uow: CollabUnitOfWork) -> CommandResult:
        outcome = await step(uow, svc.context(actor, expected, occurred_at))
        headers = {"ETag": f'"{outcome.version}"'}
        if location:
            headers["Location"] = location
        return CommandResult(status, outcome.view, headers)

    return await execute(request, actor, svc.uow, handler, retry_on_conflict=expected is None)
