"""Risk diagnosis reports (风险诊断报告): JSON, or Markdown / HTML by `Accept`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from services.alert_svc.adapters.alerts import visibility
from services.alert_svc.domain import permissions
from services.alert_svc.domain.errors import ReportNotFoundError
from services.alert_svc.entrypoints.api import render
from services.alert_svc.entrypoints.api import schemas as s
from services.alert_svc.entrypoints.api.alerts import check_region
from services.alert_svc.entrypoints.api.deps import Alerts, PathId
from services.alert_svc.entrypoints.api.links import report_view
from shared.http.auth import CurrentPrincipal
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/reports", tags=["reports"])
Filter = Annotated[str | None, Query(max_length=100)]


@router.get("", operation_id="listReports", response_model=s.ReportPage, responses=PROBLEMS)
async def list_reports(
    svc: Alerts,
    actor: CurrentPrincipal,
    opportunity_id: Filter = None,
    region: Filter = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    permissions.require_reader(actor)
    check_region(actor, region)
    async with svc.uow() as uow:
        below = await uow.tx.subjects.below(actor.sub)
        scope, params = visibility(actor.sub, actor.role, actor.region, actor.team, below)
        items, nxt = await uow.tx.reports.page(
            scope, params, {"opportunity_id": opportunity_id, "region": region}, cursor, limit
        )
    return {"items": [report_view(i) for i in items], "next_cursor": nxt}


@router.get(
    "/{report_id}",
    operation_id="getReport",
    response_model=s.ReportRead,
    responses={
        **PROBLEMS,
        200: {"content": {"text/markdown": {}, "text/html": {}}, "description": "the report"},
    },
)
async def get_report(
    report_id: PathId, request: Request, svc: Alerts, actor: CurrentPrincipal
) -> Response:
    permissions.require_reader(actor)
    async with svc.uow() as uow:
        row = await uow.tx.reports.get(report_id)
        below = await uow.tx.subjects.below(actor.sub)
    if row is None or not permissions.may_see(
        actor, row["region"], row["team"], row["recipients"], below
    ):
        raise ReportNotFoundError(f"no report {report_id}")
    accept = request.headers.get("accept", "")
    if "text/markdown" in accept:
        return PlainTextResponse(render.markdown(row), media_type="text/markdown; charset=utf-8")
    if "text/html" in accept:
        return HTMLResponse(render.as_html(row))
    return JSONResponse(report_view(row))
