"""Dependencies of the alert routes: the application service, rule bodies, running a command."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import yaml
from fastapi import Depends, Path, Request, Response
from pydantic import BaseModel, ValidationError

from services.alert_svc.application.uow import AlertUnitOfWork, Stores
from shared.context import Context
from shared.errors import ValidationFailedError
from shared.http.commands import CommandResult, execute
from shared.identity import Principal

if TYPE_CHECKING:
    from services.alert_svc.bootstrap import AlertService

#: a command step answers (body, version for the ETag)
Step = Callable[[Stores, Context], Awaitable[tuple[dict[str, Any], int]]]


async def service(request: Request) -> AlertService:
    return request.app.state.alert  # type: ignore[no-any-return]


Alerts = Annotated["AlertService", Depends(service)]
PathId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
M = TypeVar("M", bound=BaseModel)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


async def parse_body(request: Request, model: type[M]) -> M:
    """A JSON or YAML body validated into `model`; a 422 names the path of each bad field."""
    raw = await request.body()
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    try:
        data = yaml.safe_load(raw) if kind in YAML_TYPES else json.loads(raw or b"null")
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationFailedError(f"the body is not valid {kind}: {exc}", field="body") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]) or "body",
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise ValidationFailedError(f"invalid field(s): {fields}", errors=errors) from None


async def run_command(
    request: Request,
    svc: AlertService,
    actor: Principal,
    step: Step,
    *,
    expected: int | None = None,
    status: int = 200,
    location: str | None = None,
) -> Response:
    """One command through `execute`: Idempotency-Key replay, retry on a clash, ETag."""

    async def handler(uow: AlertUnitOfWork) -> CommandResult:
        body, version = await step(uow.tx, svc.context(actor, expected))
        headers = {"ETag": f'"{version}"'}
        if location:
            headers["Location"] = location
        return CommandResult(status, body, headers)

    return await execute(request, actor, svc.uow, handler, retry_on_conflict=expected is None)
