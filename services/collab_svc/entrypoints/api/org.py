"""`/org`: regions, teams and members. Admins write; every authenticated member reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.collab_svc.adapters.paging import Page
from services.collab_svc.application import org as h
from services.collab_svc.domain import commands as c
from services.collab_svc.domain.errors import MemberNotFoundError
from services.collab_svc.entrypoints.api import schemas as s
from services.collab_svc.entrypoints.api.deps import Collab, PathId, Reader, run_command
from shared.http.auth import CurrentPrincipal
from shared.http.deps import IfMatch
from shared.identity import MemberRole
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/org", tags=["org directory"])
Filter = Annotated[str | None, Query(max_length=100)]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "/regions",
    status_code=201,
    operation_id="defineRegion",
    summary="Define a region (区域); admins only",
    response_model=s.RegionRead,
    responses=PROBLEMS,
)
async def define_region(
    body: s.RegionCreate, request: Request, svc: Collab, actor: CurrentPrincipal
) -> Response:
    cmd = c.DefineRegion(body.region_id, body.name, body.name_zh)
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.define_region(cmd, uow, ctx),
        status=201,
        location=f"/org/regions/{cmd.region_id}",
        occurred_at=body.occurred_at,
    )


@router.get(
    "/regions",
    operation_id="listRegions",
    summary="List regions",
    response_model=s.Page[s.RegionRead],
    responses=PROBLEMS,
)
async def list_regions(
    svc: Collab, _actor: Reader, cursor: Cursor = None, limit: Limit = 50
) -> dict[str, Any]:
    async with svc.uow() as uow:
        items, nxt = await uow.org.regions(Page({}, cursor, limit))
    return {"items": items, "next_cursor": nxt}


@router.post(
    "/teams",
    status_code=201,
    operation_id="formTeam",
    summary="Form a team (团队) in a defined region; admins only",
    response_model=s.TeamRead,
    responses=PROBLEMS,
)
async def form_team(
    body: s.TeamCreate, request: Request, svc: Collab, actor: CurrentPrincipal
) -> Response:
    cmd = c.FormTeam(body.team_id, body.region_id, body.name)
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.form_team(cmd, uow, ctx),
        status=201,
        location=f"/org/teams/{cmd.team_id}",
        occurred_at=body.occurred_at,
    )


@router.get(
    "/teams",
    operation_id="listTeams",
    summary="List teams, optionally of one region",
    response_model=s.Page[s.TeamRead],
    responses=PROBLEMS,
)
async def list_teams(
    svc: Collab,
    _actor: Reader,
    region_id: Filter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    async with svc.uow() as uow:
        items, nxt = await uow.org.teams(Page({"region_id": region_id}, cursor, limit))
    return {"items": items, "next_cursor": nxt}


def _assignment(member_id: str, body: s.MemberUpdate) -> c.AssignMember:
    return c.AssignMember(
        member_id=member_id,
        name=body.name,
        role=body.role,
        region_id=body.region_id,
        team_id=body.team_id,
        email=body.email,
        manager_id=body.manager_id,
    )


@router.post(
    "/members",
    status_code=201,
    operation_id="assignMember",
    summary="Add a member (成员) with role, region, team and manager; admins only",
    response_model=s.MemberRead,
    responses=PROBLEMS,
)
async def assign_member(
    body: s.MemberCreate, request: Request, svc: Collab, actor: CurrentPrincipal
) -> Response:
    cmd = _assignment(body.member_id, body)
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.assign_member(cmd, uow, ctx, new=True),
        status=201,
        location=f"/org/members/{cmd.member_id}",
        occurred_at=body.occurred_at,
    )


@router.get(
    "/members",
    operation_id="listMembers",
    summary="List members, filterable by region, team, role and manager",
    response_model=s.Page[s.MemberRead],
    responses=PROBLEMS,
)
async def list_members(
    svc: Collab,
    _actor: Reader,
    region_id: Filter = None,
    team_id: Filter = None,
    role: Annotated[MemberRole | None, Query()] = None,
    manager_id: Filter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    filters = {"region_id": region_id, "team_id": team_id, "role": role, "manager_id": manager_id}
    async with svc.uow() as uow:
        items, nxt = await uow.org.members(Page(filters, cursor, limit))
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/members/{member_id}",
    operation_id="getMember",
    summary="One member",
    response_model=s.MemberRead,
    responses=PROBLEMS,
)
async def get_member(
    member_id: PathId, svc: Collab, _actor: Reader, response: Response
) -> dict[str, Any]:
    async with svc.uow() as uow:
        member = await uow.org.member(member_id)
    if member is None:
        raise MemberNotFoundError(f"no member {member_id}")
    response.headers["ETag"] = f'"{member["version"]}"'
    return member


@router.put(
    "/members/{member_id}",
    operation_id="reassignMember",
    summary="Re-assign a member (role, region, team, manager); admins only",
    response_model=s.MemberRead,
    responses=PROBLEMS,
)
async def reassign_member(
    member_id: PathId,
    body: s.MemberUpdate,
    request: Request,
    svc: Collab,
    actor: CurrentPrincipal,
    expected: IfMatch,
) -> Response:
    cmd = _assignment(member_id, body)
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.assign_member(cmd, uow, ctx, new=False),
        expected=expected,
        occurred_at=body.occurred_at,
    )
