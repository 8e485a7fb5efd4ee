"""One handler per command: load the aggregate, check who asks, decide, append, refresh the view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from services.pipeline_svc.adapters.directory import OWNER_GUARD
from services.pipeline_svc.adapters.views import UPSERT_AFTER_APPEND_SQL
from services.pipeline_svc.adapters.views import row as view_row
from services.pipeline_svc.application.playbooks import PlaybookInForce, Playbooks
from services.pipeline_svc.application.uow import PipelineUnitOfWork, stream_id
from services.pipeline_svc.application.views import render
from services.pipeline_svc.domain import commands as c
from services.pipeline_svc.domain import permissions
from services.pipeline_svc.domain.errors import (
    AccountNotYetKnownError,
    GateBlockedError,
    NotPermittedError,
    OpportunityNotFoundError,
    RegionIsolationError,
)
from services.pipeline_svc.domain.opportunity import STREAM_TYPE, Opportunity, open_opportunity
from shared.context import Context
from shared.contracts.pipeline import StageAdvanceBlocked, StakeholderMapped
from shared.errors import ConflictError, PreconditionFailedError
from shared.events.base import DomainEvent
from shared.events.envelope import NewEvent
from shared.identity import Principal
from shared.observability import EVENTS_APPENDED, labelled

Action = Literal["manage", "contact", "reassign"]


@dataclass(frozen=True)
class Outcome:
    view: dict[str, Any]
    version: int
    refusal: GateBlockedError | None = None


async def load(uow: PipelineUnitOfWork, opportunity_id: str) -> Opportunity:
    # ownership follows the account; the shared row lock holds a transfer back until we commit,
    # so the list view row written below never carries a region the transfer already replaced
    opp, owner = await uow.load_owned(opportunity_id)
    if not opp.exists:
        raise OpportunityNotFoundError(f"no opportunity {opportunity_id}")
    opp.owned_by(owner)
    return opp


async def record(
    uow: PipelineUnitOfWork,
    opp: Opportunity,
    events: list[DomainEvent],
    ctx: Context,
    pb: PlaybookInForce,
) -> Outcome:
    expected = opp.version
    new = [NewEvent(e, key=opp.account_id or None) for e in events]
    for e in events:
        opp.apply(e)
    view = render(opp, pb, ctx.now)
    contacts = [
        contact
        for e in events
        if isinstance(e, StakeholderMapped)
        for contact in (e.email, e.phone)
        if contact
    ]
    if contacts:
        # more than one statement to keep together
        await uow.begin()
    # the events and the list view's row in one statement (one round trip), refused unless the
    # account's owner is still the one the command was decided on; in a deferred unit of work
    # that statement is the whole write and commits on its own
    await uow.events.append_then(
        stream_id(opp.opportunity_id),
        STREAM_TYPE,
        expected,
        new,
        ctx.metadata,
        UPSERT_AFTER_APPEND_SQL,
        {
            **view_row(opp, view, ctx.now),
            "guard_account": opp.account_id,
            "guard_owner": uow.directory.owner_read(opp.account_id),
        },
        guard=OWNER_GUARD,
    )
    for e in events:
        labelled(EVENTS_APPENDED, "pipeline", e.event_name).inc()
    for contact in contacts:
        await uow.directory.add_stakeholder_contact(contact, opp.account_id, opp.opportunity_id)
    uow.wrote(opp)
    return Outcome(view, opp.version)


async def open_(
    cmd: c.OpenOpportunity, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> Outcome:
    owning = await uow.directory.owning_region(cmd.account_id)
    if owning is None:
        raise AccountNotYetKnownError(
            f"account {cmd.account_id} is not known to the pipeline yet (registration may still "
            "be on its way from the collaboration service); retry in a few seconds",
            account_id=cmd.account_id,
        )
    permissions.require_region(ctx.actor, cmd.account_id, owning)
    if cmd.region != owning:
        raise RegionIsolationError(
            f"account {cmd.account_id} is owned by region {owning}; its deals belong there",
            account_id=cmd.account_id,
            owning_region=owning,
        )
    if cmd.owner_id != ctx.actor.sub and ctx.actor.role != "rep":  # a rep: 403 just below
        # the owner must be a member of the deal's region, as collab's directory says
        member = await uow.directory.member(cmd.owner_id)
        team = permissions.reassign_target(
            member, cmd.owner_id, cmd.team or None, cmd.region, field="owner_id"
        )
        cmd = replace(cmd, team=team)
    permissions.require_open(ctx.actor, cmd.region, cmd.team, cmd.owner_id)
    if await uow.events.load(stream_id(cmd.opportunity_id)):
        raise ConflictError(f"opportunity {cmd.opportunity_id} already exists")
    pb = await playbooks.current(uow)
    opp = Opportunity(cmd.opportunity_id, account_id=cmd.account_id)
    return await record(uow, opp, [open_opportunity(cmd, pb.version, ctx.now)], ctx, pb)


async def _change(
    opportunity_id: str,
    uow: PipelineUnitOfWork,
    ctx: Context,
    playbooks: Playbooks,
    decide: Callable[[Opportunity, PlaybookInForce, Context], list[DomainEvent]],
    action: Action = "manage",
    *,
    moves_stage: bool = False,
) -> Outcome:
    opp = await load(uow, opportunity_id)
    # decisions, grants and dwell all run at the command's business time, in the stream's order
    now = ctx.at_or_after(opp.last_occurred_at)
    if now != ctx.now:
        ctx = replace(ctx, now=now)
    await authorize(uow, ctx, opp, action)
    if ctx.expected_version is not None and ctx.expected_version != opp.version:
        raise PreconditionFailedError(
            f"If-Match expects version {ctx.expected_version}; the opportunity is at {opp.version}",
            current_version=opp.version,
        )
    pb = await (playbooks.for_stage_move(uow) if moves_stage else playbooks.current(uow))
    events = decide(opp, pb, ctx)
    outcome = await record(uow, opp, events, ctx, pb)
    blocked = next((e for e in events if isinstance(e, StageAdvanceBlocked)), None)
    if blocked is None:
        return outcome
    refusal = GateBlockedError(
        f"cannot move from {blocked.from_stage} to {blocked.to_stage}: "
        f"{len(blocked.missing)} item(s) of the action package are missing",
        blocked.missing,
        blocked.from_stage,
        blocked.to_stage,
    )
    return Outcome(outcome.view, outcome.version, refusal)


async def authorize(
    uow: PipelineUnitOfWork, ctx: Context, opp: Opportunity, action: Action
) -> None:
    """Region isolation first (the account's owner as collab says), then role and ownership."""
    actor = ctx.actor
    region = opp.region
    if action == "contact" and actor.region != region:
        granted = await uow.directory.has_grant(opp.account_id, actor.sub, ctx.now)
        if permissions.may_log_contact(actor, region, opp.team, opp.owner_id, granted):
            return
    permissions.require_region(actor, opp.account_id, region)
    if action == "reassign":
        permissions.require_reassign(actor, region, opp.team, opp.owner_id)
    else:
        permissions.require_manage(actor, region, opp.team, opp.owner_id)


def _contact(
    opp: Opportunity, pb: PlaybookInForce, cmd: c.LogActivity, ctx: Context
) -> list[DomainEvent]:
    actor = ctx.actor
    if actor.role == "importer":
        # imported history is the owner's contact; the event metadata still names the importer
        actor = Principal(sub=opp.owner_id, role="rep", region=opp.region, team=opp.team)
    events = opp.log_activity(cmd, pb.definition, actor, ctx.now)
    outsider = ctx.actor.region != opp.region and not ctx.actor.writes_everywhere
    if outsider and not all(getattr(e, "customer_facing", True) for e in events):
        raise NotPermittedError("internal notes on a deal belong to its own region")
    return events


async def log_activity(
    cmd: c.LogActivity, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> Outcome:
    outcome = await _change(
        cmd.opportunity_id,
        uow,
        ctx,
        playbooks,
        lambda opp, pb, ctx: _contact(opp, pb, cmd, ctx),
        "contact",
    )
    if ctx.actor.region != outcome.view["region"] and not permissions.may_read(
        ctx.actor, outcome.view["region"]
    ):
        # a collaborator from another region learns that the contact was recorded, not the deal
        keep = ("id", "account_id", "region", "version")
        return Outcome({k: outcome.view[k] for k in keep}, outcome.version)
    return outcome


async def submit_artifact(
    cmd: c.SubmitArtifact, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> Outcome:
    return await _change(
        cmd.opportunity_id,
        uow,
        ctx,
        playbooks,
        lambda opp, pb, ctx: opp.submit_artifact(cmd, pb.definition, ctx.actor, ctx.now),
    )


async def map_stakeholder(
    cmd: c.MapStakeholder, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> Outcome:
    return await _change(
        cmd.opportunity_id,
        uow,
        ctx,
        playbooks,
        lambda opp, pb, ctx: opp.map_stakeholder(cmd, pb.definition, ctx.actor, ctx.now),
    )


async def advance_stage(
    cmd: c.AdvanceStage, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> Outcome:
    return await _change(
        cmd.opportunity_id,
        uow,
        ctx,
        playbooks,
        lambda opp, pb, ctx: opp.advance(cmd, pb.definition, pb.version, ctx.actor, ctx.now),
        moves_stage=True,
    )


async def reassign(
    cmd: c.ReassignOpportunity, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> Outcome:
    member = await uow.directory.member(cmd.to_owner)

    def decide(opp: Opportunity, _pb: PlaybookInForce, ctx: Context) -> list[DomainEvent]:
        team = permissions.reassign_target(member, cmd.to_owner, cmd.team, opp.region)
        return opp.reassign(replace(cmd, team=team), ctx.actor, ctx.now)

    return await _change(cmd.opportunity_id, uow, ctx, playbooks, decide, "reassign")


async def close(
    cmd: c.CloseOpportunity, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> Outcome:
    return await _change(
        cmd.opportunity_id,
        uow,
        ctx,
        playbooks,
        lambda opp, pb, ctx: opp.close(cmd, pb.definition, pb.version, ctx.actor, ctx.now),
    )
