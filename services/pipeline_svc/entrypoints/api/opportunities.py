"""REST routes for opportunities: commands through `execute`, reads from the store and the view."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from services.pipeline_svc.adapters.views import ListQuery
from services.pipeline_svc.application import handlers as h
from services.pipeline_svc.application.playbooks import Playbooks
from services.pipeline_svc.application.uow import PipelineUnitOfWork, stream_id
from services.pipeline_svc.application.views import render
from services.pipeline_svc.domain import commands as c
from services.pipeline_svc.domain import permissions
from services.pipeline_svc.domain.errors import NotPermittedError, OpportunityNotFoundError
from services.pipeline_svc.entrypoints.api import schemas as s
from services.pipeline_svc.entrypoints.api.deps import Pipeline, pipeline
from shared.context import Context
from shared.http.auth import CurrentPrincipal
from shared.http.commands import CommandResult, execute
from shared.http.deps import IfMatchHeader, expected_version
from shared.http.lean import LeanRoute
from shared.ids import uuid4_text
from shared.problems_doc import PROBLEMS
from shared.store.cursors import decode_seq, encode_seq

router = APIRouter(prefix="/opportunities", tags=["opportunities"], route_class=LeanRoute)
OppId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]


def _result(outcome: h.Outcome, status: int = 200) -> CommandResult:
    headers = {"ETag": f'"{outcome.version}"'}
    if status == 201:
        headers["Location"] = f"/opportunities/{outcome.view['id']}"
    if outcome.refusal is not None:
        return CommandResult(409, None, headers, outcome.refusal)
    return CommandResult(status, outcome.view, headers)


async def _run(
    request: Request,
    actor: Any,
    if_match: str | None,
    step: Callable[[PipelineUnitOfWork, Context, Playbooks], Awaitable[h.Outcome]],
    status: int = 200,
    occurred_at: datetime | None = None,
    *,
    activity: bool = False,
) -> Response:
    """A deal command: the service and `If-Match` are read here rather than through
    dependencies (each dependency costs a request more than the attribute it reads)."""
    svc, expected = pipeline(request), expected_version(if_match)

    async def handler(uow: PipelineUnitOfWork) -> CommandResult:
        ctx = svc.context(actor, expected, occurred_at, activity=activity)
        return _result(await step(uow, ctx, svc.playbooks), status)

    return await execute(
        request, actor, svc.deferred_uow, handler, retry_on_conflict=expected is None
    )


# FastAPI tries a router's routes in the order they are declared (twice per request, to
# match and then to handle): the command sent most, logging an activity, comes first
@router.post(
    "/{opportunity_id}/activities",
    operation_id="logActivity",
    summary="Log a follow-up activity (跟进行为); collaborators under a grant get ContactRecorded",
    response_model=s.OpportunityRead | s.ContactRecorded,
    responses=PROBLEMS,
)
async def log_activity(
    opportunity_id: OppId,
    body: s.ActivityCreate,
    request: Request,
    actor: CurrentPrincipal,
    if_match: IfMatchHeader = None,
) -> Response:
    cmd = c.LogActivity(
        opportunity_id=opportunity_id,
        activity_id=uuid4_text(),
        kind=body.kind,
        contacts=body.contacts,
        summary=body.summary,
        objections_raised=body.objections_raised,
        objections_resolved=body.objections_resolved,
        next_step=body.next_step,
    )
    return await _run(
        request,
        actor,
        if_match,
        lambda u, ctx, pb: h.log_activity(cmd, u, ctx, pb),
        occurred_at=body.occurred_at,
        activity=True,
    )


@router.post(
    "",
    status_code=201,
    operation_id="openOpportunity",
    summary="Open an opportunity; it starts as a lead (线索)",
    response_model=s.OpportunityRead,
    responses=PROBLEMS,
)
async def open_opportunity(
    body: s.OpportunityCreate, request: Request, actor: CurrentPrincipal
) -> Response:
    owner_id = body.owner_id or actor.sub
    cmd = c.OpenOpportunity(
        opportunity_id=uuid4_text(),
        account_id=body.account_id,
        title=body.title,
        owner_id=owner_id,
        region=body.region or actor.region,
        # a deal opened for someone else goes to their team (checked against the directory)
        team=body.team or (actor.team if owner_id == actor.sub else ""),
        amount=body.amount,
        currency=body.currency,
        expected_close_date=body.expected_close_date,
        lead_source=body.lead_source,
    )

    async def step(uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks) -> h.Outcome:
        return await h.open_(cmd, uow, ctx, playbooks)

    return await _run(request, actor, None, step, 201, body.occurred_at)


@router.get(
    "",
    operation_id="listOpportunities",
    summary="List opportunities (cursor-paginated, filterable)",
    response_model=s.OpportunityPage,
    responses=PROBLEMS,
)
async def list_opportunities(
    svc: Pipeline,
    actor: CurrentPrincipal,
    region: Annotated[str | None, Query(max_length=100)] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    owner_id: Annotated[str | None, Query(max_length=100)] = None,
    stage: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(pattern="^(open|won|lost)$")] = None,
    account_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if actor.role not in ("admin", "partner"):
        if region is not None and region != actor.region:
            raise NotPermittedError(f"members of {actor.region} list their own region only")
        region = actor.region
    if not permissions.may_read(actor, region or actor.region):
        raise NotPermittedError(f"a {actor.role} may not list opportunities")
    q = ListQuery(region, team, owner_id, stage, status, account_id, cursor, limit)
    async with svc.deferred_uow() as uow:
        items, nxt = await uow.views.page(q)
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/{opportunity_id}",
    operation_id="getOpportunity",
    summary="One opportunity with its gate status (what is missing to advance)",
    response_model=s.OpportunityRead,
    responses=PROBLEMS,
)
async def get_opportunity(
    opportunity_id: OppId, svc: Pipeline, actor: CurrentPrincipal, response: Response
) -> dict[str, Any]:
    async with svc.deferred_uow() as uow:
        opp = await h.load(uow, opportunity_id)
        region = opp.region
        if not permissions.may_read(actor, region):
            raise NotPermittedError(f"the opportunity belongs to region {region}")
        pb = await svc.playbooks.current(uow)
    response.headers["ETag"] = f'"{opp.version}"'
    return render(opp, pb, svc.clock.now())


@router.get(
    "/{opportunity_id}/history",
    operation_id="getOpportunityHistory",
    summary="The full event history of one opportunity",
    response_model=s.HistoryPage,
    responses=PROBLEMS,
)
async def history(
    opportunity_id: OppId,
    svc: Pipeline,
    actor: CurrentPrincipal,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    async with svc.deferred_uow() as uow:
        envelopes = await uow.events.load(stream_id(opportunity_id))
        if not envelopes:
            raise OpportunityNotFoundError(f"no opportunity {opportunity_id}")
        opened = envelopes[0].event
        owner = await uow.directory.owning_region(getattr(opened, "account_id", ""))
    region = owner or str(getattr(opened, "region", ""))
    if not permissions.may_read(actor, region):
        raise NotPermittedError(f"the opportunity belongs to region {region}")
    after = decode_seq(cursor) if cursor else 0
    page = [e for e in envelopes if e.version > after][:limit]
    more = bool(page) and page[-1].version < envelopes[-1].version
    items = [
        {
            "event_id": str(e.event_id),
            "type": e.name,
            "version": e.version,
            "occurred_at": e.occurred_at.isoformat(),
            "recorded_at": e.recorded_at.isoformat(),
            "actor": e.metadata.actor,
            "correlation_id": e.metadata.correlation_id,
            "data": e.event.payload(),
        }
        for e in page
    ]
    return {"items": items, "next_cursor": encode_seq(page[-1].version) if more else None}


def _command_route(path: str, op: str, summary: str) -> Callable[[Any], Any]:
    return router.post(
        f"/{{opportunity_id}}/{path}",
        operation_id=op,
        summary=summary,
        response_model=s.OpportunityRead,
        responses=PROBLEMS,
    )


@_command_route("artifacts", "submitArtifact", "Submit an artifact (材料); fill rate computed")
async def submit_artifact(
    opportunity_id: OppId,
    body: s.ArtifactCreate,
    request: Request,
    actor: CurrentPrincipal,
    if_match: IfMatchHeader = None,
) -> Response:
    cmd = c.SubmitArtifact(opportunity_id, uuid4_text(), body.kind, body.fields)
    return await _run(
        request,
        actor,
        if_match,
        lambda u, ctx, pb: h.submit_artifact(cmd, u, ctx, pb),
        occurred_at=body.occurred_at,
    )


@_command_route("stakeholders", "mapStakeholder", "Map a stakeholder (关键人) and their role")
async def map_stakeholder(
    opportunity_id: OppId,
    body: s.StakeholderCreate,
    request: Request,
    actor: CurrentPrincipal,
    if_match: IfMatchHeader = None,
) -> Response:
    cmd = c.MapStakeholder(
        opportunity_id, uuid4_text(), body.name, body.role, body.title, body.email, body.phone
    )
    return await _run(
        request,
        actor,
        if_match,
        lambda u, ctx, pb: h.map_stakeholder(cmd, u, ctx, pb),
        occurred_at=body.occurred_at,
    )


@_command_route("advance", "advanceStage", "Advance to the next stage, or 409 with what is missing")
async def advance(
    opportunity_id: OppId,
    request: Request,
    actor: CurrentPrincipal,
    if_match: IfMatchHeader = None,
    body: s.AdvanceRequest | None = None,
) -> Response:
    cmd = c.AdvanceStage(opportunity_id, body.to_stage if body else None)
    return await _run(
        request,
        actor,
        if_match,
        lambda u, ctx, pb: h.advance_stage(cmd, u, ctx, pb),
        occurred_at=body.occurred_at if body else None,
    )


@_command_route("reassign", "reassignOpportunity", "Give the deal to another rep")
async def reassign(
    opportunity_id: OppId,
    body: s.ReassignRequest,
    request: Request,
    actor: CurrentPrincipal,
    if_match: IfMatchHeader = None,
) -> Response:
    cmd = c.ReassignOpportunity(opportunity_id, body.to_owner, body.team, body.reason)
    return await _run(
        request,
        actor,
        if_match,
        lambda u, ctx, pb: h.reassign(cmd, u, ctx, pb),
        occurred_at=body.occurred_at,
    )


@_command_route(
    "close", "closeOpportunity", "Close as won (from the last stage, gate checked) or lost"
)
async def close(
    opportunity_id: OppId,
    body: s.CloseRequest,
    request: Request,
    actor: CurrentPrincipal,
    if_match: IfMatchHeader = None,
) -> Response:
    cmd = c.CloseOpportunity(opportunity_id, body.outcome, body.reason, body.competitor)
    return await _run(
        request,
        actor,
        if_match,
        lambda u, ctx, pb: h.close(cmd, u, ctx, pb),
        occurred_at=body.occurred_at,
    )
