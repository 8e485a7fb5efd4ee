"""Org directory handlers: define a region, form a team, assign (or re-assign) a member."""

from __future__ import annotations

from services.collab_svc.application.handlers import Outcome, check_version, record
from services.collab_svc.application.uow import CollabUnitOfWork
from services.collab_svc.domain import commands as c
from services.collab_svc.domain import permissions
from services.collab_svc.domain.errors import AlreadyExistsError, MemberNotFoundError
from services.collab_svc.domain.org import Member, Region, Team
from shared.context import Context


def region_stream(region_id: str) -> tuple[str, str]:
    return f"region-{region_id}", "region"


def team_stream(team_id: str) -> tuple[str, str]:
    return f"team-{team_id}", "team"


def member_stream(member_id: str) -> tuple[str, str]:
    return f"member-{member_id}", "member"


async def load_region(uow: CollabUnitOfWork, region_id: str) -> Region:
    envelopes = await uow.events.load(region_stream(region_id)[0])
    return Region.fold(region_id, [e.event for e in envelopes])


async def load_team(uow: CollabUnitOfWork, team_id: str) -> Team:
    envelopes = await uow.events.load(team_stream(team_id)[0])
    return Team.fold(team_id, [e.event for e in envelopes])


async def load_member(uow: CollabUnitOfWork, member_id: str) -> Member:
    envelopes = await uow.events.load(member_stream(member_id)[0])
    return Member.fold(member_id, [e.event for e in envelopes])


async def define_region(cmd: c.DefineRegion, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    permissions.require_write_org(ctx.actor)
    region = await load_region(uow, cmd.region_id)
    events = region.define(cmd, ctx.actor, ctx.now)
    events = await record(
        uow, region_stream(cmd.region_id), region.version, events, ctx.metadata, dated=ctx.dated
    )
    for e in events:
        region.apply(e)
    await uow.org.save_region(region, ctx.now)
    view = await uow.org.region(cmd.region_id)
    assert view is not None
    return Outcome(view, region.version)


async def form_team(cmd: c.FormTeam, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    permissions.require_write_org(ctx.actor)
    team = await load_team(uow, cmd.team_id)
    region = await load_region(uow, cmd.region_id)
    events = team.form(cmd, region, ctx.actor, ctx.now)
    events = await record(
        uow, team_stream(cmd.team_id), team.version, events, ctx.metadata, dated=ctx.dated
    )
    for e in events:
        team.apply(e)
    await uow.org.save_team(team, ctx.now)
    view = await uow.org.team(cmd.team_id)
    assert view is not None
    return Outcome(view, team.version)


async def assign_member(
    cmd: c.AssignMember, uow: CollabUnitOfWork, ctx: Context, *, new: bool
) -> Outcome:
    """`new`: POST (the member must not exist yet); else PUT, a re-assignment of a known one."""
    permissions.require_write_org(ctx.actor)
    member = await load_member(uow, cmd.member_id)
    if new and member.exists:
        raise AlreadyExistsError(
            f"member {cmd.member_id} exists already; PUT /org/members/{cmd.member_id} re-assigns"
        )
    if not new and not member.exists:
        raise MemberNotFoundError(f"no member {cmd.member_id}")
    check_version(ctx, member.version, "member")
    team = await load_team(uow, cmd.team_id)
    manager = await load_member(uow, cmd.manager_id) if cmd.manager_id else None
    events = member.assign(cmd, team, manager, ctx.actor, ctx.now)
    events = await record(
        uow, member_stream(cmd.member_id), member.version, events, ctx.metadata, dated=ctx.dated
    )
    for e in events:
        member.apply(e)
    if events:
        await uow.org.save_member(member, ctx.now)
    view = await uow.org.member(cmd.member_id)
    assert view is not None
    return Outcome(view, member.version)
