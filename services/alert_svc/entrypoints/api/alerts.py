"""Alerts (预警): listed and read by their recipients, their managers and admins; acknowledged
and resolved with a comment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.alert_svc.adapters.alerts import visibility
from services.alert_svc.application import alerts
from services.alert_svc.application.uow import Stores
from services.alert_svc.domain import permissions
from services.alert_svc.domain.errors import AlertNotFoundError, NotAllowedError
from services.alert_svc.entrypoints.api import schemas as s
from services.alert_svc.entrypoints.api.deps import Alerts, PathId, parse_body, run_command
from services.alert_svc.entrypoints.api.links import alert_view
from shared.context import Context
from shared.http.auth import CurrentPrincipal
from shared.identity import Principal
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/alerts", tags=["alerts"])
Filter = Annotated[str | None, Query(max_length=100)]


async def scope_of(tx: Stores, actor: Principal) -> tuple[str, dict[str, Any]]:
    below = (
        [] if actor.role in ("admin", "regional_manager") else await tx.subjects.below(actor.sub)
    )
    return visibility(actor.sub, actor.role, actor.region, actor.team, below)


def check_region(actor: Principal, region: str | None) -> None:
    if region is not None and not actor.is_admin and region != actor.region:
        raise NotAllowedError(f"you may not read region {region}")


@router.get("", operation_id="listAlerts", response_model=s.AlertPage, responses=PROBLEMS)
async def list_alerts(
    svc: Alerts,
    actor: CurrentPrincipal,
    status: Annotated[s.AlertStatus | None, Query()] = None,
    rule_id: Filter = None,
    region: Filter = None,
    team: Filter = None,
    recipient: Filter = None,
    opportunity_id: Filter = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    permissions.require_reader(actor)
    check_region(actor, region)
    filters = {
        "status": status,
        "rule_id": rule_id,
        "region": region,
        "team": team,
        "recipient": recipient,
        "opportunity_id": opportunity_id,
    }
    async with svc.uow() as uow:
        scope, params = await scope_of(uow.tx, actor)
        items, nxt = await uow.tx.alerts.page(filters, scope, params, cursor, limit)
    return {"items": [alert_view(i) for i in items], "next_cursor": nxt}


@router.get("/{alert_id}", operation_id="getAlert", response_model=s.AlertRead, responses=PROBLEMS)
async def get_alert(
    alert_id: PathId, svc: Alerts, actor: CurrentPrincipal, response: Response
) -> dict[str, Any]:
    permissions.require_reader(actor)
    async with svc.uow() as uow:
        row = await uow.tx.alerts.get(alert_id)
        below = await uow.tx.subjects.below(actor.sub)
    if row is None or not permissions.may_see(
        actor, row["region"], row["team"], row["recipients"], below
    ):
        raise AlertNotFoundError(f"no alert {alert_id}")
    response.headers["ETag"] = f'"{row["version"]}"'
    return alert_view(row)


async def _answer(tx: Stores, alert_id: str) -> tuple[dict[str, Any], int]:
    row = await tx.alerts.get(alert_id)
    assert row is not None
    return alert_view(row), int(row["version"])


@router.post(
    "/{alert_id}/acknowledge",
    operation_id="acknowledgeAlert",
    response_model=s.AlertRead,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/AcknowledgeBody"}}
            }
        }
    },
)
async def acknowledge(
    alert_id: PathId, request: Request, svc: Alerts, actor: CurrentPrincipal
) -> Response:
    permissions.require_reader(actor)
    body = (
        await parse_body(request, s.AcknowledgeBody)
        if await request.body()
        else s.AcknowledgeBody()
    )

    async def step(tx: Stores, ctx: Context) -> tuple[dict[str, Any], int]:
        await alerts.acknowledge(tx, alert_id, body.comment, ctx)
        return await _answer(tx, alert_id)

    return await run_command(request, svc, actor, step)


@router.post(
    "/{alert_id}/resolve",
    operation_id="resolveAlert",
    response_model=s.AlertRead,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ResolveBody"}}
            },
        }
    },
)
async def resolve(
    alert_id: PathId, request: Request, svc: Alerts, actor: CurrentPrincipal
) -> Response:
    permissions.require_reader(actor)
    body = await parse_body(request, s.ResolveBody)

    async def step(tx: Stores, ctx: Context) -> tuple[dict[str, Any], int]:
        await alerts.resolve(tx, alert_id, body.reason, body.comment, ctx)
        return await _answer(tx, alert_id)

    return await run_command(request, svc, actor, step)
