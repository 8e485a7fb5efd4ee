"""Risk diagnosis reports (风险诊断报告): what a stalled deal lacks, built from its history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from services.alert_svc.domain.subject import days_between
from shared.contracts import alert as av
from shared.contracts import pipeline as pv
from shared.contracts.playbook import (
    ActivityRequirement,
    ArtifactRequirement,
    PlaybookDefinition,
    Requirement,
)
from shared.events.base import DomainEvent

RECENT = 5
#: stage -> (median dwell days of the team, of the region)
Medians = Mapping[str, tuple[float | None, float | None]]


def stage_history(
    events: Sequence[DomainEvent], now: datetime, medians: Medians
) -> list[av.StageDwell]:
    stays: list[tuple[str, datetime, datetime | None]] = []
    for e in events:
        if isinstance(e, pv.OpportunityOpened):
            stays = [(e.stage, e.occurred_at, None)]
        elif isinstance(e, pv.StageAdvanced | pv.OpportunityWon | pv.OpportunityLost) and stays:
            stage, entered, _ = stays[-1]
            stays[-1] = (stage, entered, e.occurred_at)
            if isinstance(e, pv.StageAdvanced):
                stays.append((e.to_stage, e.occurred_at, None))
    out = []
    for stage, entered, left in stays:
        team_median, region_median = medians.get(stage, (None, None))
        out.append(
            av.StageDwell(
                stage=stage,
                entered_at=entered,
                left_at=left,
                days=round(days_between(entered, left or now), 1),
                team_median_days=team_median,
                region_median_days=region_median,
            )
        )
    return out


def _met(req: Requirement, stage: str, events: Sequence[DomainEvent]) -> bool:
    if isinstance(req, ArtifactRequirement):
        return any(
            isinstance(e, pv.ArtifactSubmitted)
            and e.artifact_kind == req.artifact
            and e.fill_rate >= req.min_fill_rate
            for e in events
        )
    if isinstance(req, ActivityRequirement):
        return any(
            isinstance(e, pv.ActivityLogged)
            and e.kind in req.activity_kinds
            and (not req.in_stage or e.stage == stage)
            and (not req.require_next_step or bool(e.next_step))
            for e in events
        )
    roles = {e.role for e in events if isinstance(e, pv.StakeholderMapped)}
    return len(roles) >= req.min_roles


def _describe(req: Requirement) -> tuple[str, str, str]:
    if isinstance(req, ArtifactRequirement):
        return f"artifact:{req.artifact}", "artifact", f"submit {req.artifact}"
    if isinstance(req, ActivityRequirement):
        kinds = "/".join(req.activity_kinds)
        return f"activity:{kinds}", "activity", f"log a {kinds} activity"
    return (
        "stakeholder_roles",
        "stakeholder_roles",
        f"map at least {req.min_roles} stakeholder roles",
    )


def missing_items(
    stage: str, events: Sequence[DomainEvent], playbook: PlaybookDefinition | None
) -> tuple[list[av.MissingNote], str]:
    """From the last refused advance out of this stage, else computed from the playbook."""
    blocked = [e for e in events if isinstance(e, pv.StageAdvanceBlocked) and e.from_stage == stage]
    if blocked:
        notes = [
            av.MissingNote(code=m.code, requirement=m.requirement, detail=m.detail)
            for m in blocked[-1].missing
        ]
        return notes, "stage_advance_blocked"
    if playbook is None or stage not in {s.key for s in playbook.stages}:
        return [], "unknown"
    nxt = playbook.next_stage(stage)
    reqs = [*playbook.stage(stage).exit, *(nxt.entry if nxt else [])]
    notes = []
    for req in reqs:
        if not _met(req, stage, events):
            code, kind, detail = _describe(req)
            notes.append(av.MissingNote(code=code, requirement=kind, detail=detail))
    return notes, "playbook"


def objections(events: Sequence[DomainEvent]) -> list[av.ObjectionNote]:
    activities = [e for e in events if isinstance(e, pv.ActivityLogged)]
    out = []
    for i, a in enumerate(activities):
        for text in a.objections_raised:
            resolved = any(text in later.objections_resolved for later in activities[i:])
            out.append(
                av.ObjectionNote(
                    objection=text,
                    raised_at=a.occurred_at,
                    activity_id=a.activity_id,
                    resolved=resolved,
                )
            )
    return out


def recommendations(
    missing: list[av.MissingNote],
    open_objections: list[av.ObjectionNote],
    roles_missing: list[str],
    history: list[av.StageDwell],
) -> list[av.Recommendation]:
    """Each recommended next action names the gap it closes."""
    out = [av.Recommendation(action=m.detail, closes_gap=f"missing {m.code}") for m in missing]
    out += [
        av.Recommendation(
            action=f"address the objection '{o.objection}' with the customer",
            closes_gap=f"open objection: {o.objection}",
        )
        for o in open_objections
    ]
    out += [
        av.Recommendation(
            action=f"identify and meet the {role}",
            closes_gap=f"stakeholder role {role} not covered",
        )
        for role in roles_missing
    ]
    current = history[-1] if history else None
    if (
        current
        and current.region_median_days is not None
        and current.days > current.region_median_days
    ):
        out.append(
            av.Recommendation(
                action="review the deal with the owner and agree a dated plan to the next stage",
                closes_gap=f"{current.days} days in {current.stage} vs region median {current.region_median_days}",
            )
        )
    return out


def build(
    events: Sequence[DomainEvent],
    now: datetime,
    *,
    playbook: PlaybookDefinition | None = None,
    medians: Medians | None = None,
    health: dict[str, float] | None = None,
) -> av.RiskReport:
    """`events`: the opportunity's pipeline events in business order."""
    history = stage_history(events, now, medians or {})
    stage = history[-1].stage if history else ""
    nxt = (
        playbook.next_stage(stage)
        if playbook and stage in {s.key for s in playbook.stages}
        else None
    )
    missing, source = missing_items(stage, events, playbook)
    noted = objections(events)
    covered = sorted({e.role for e in events if isinstance(e, pv.StakeholderMapped)})
    roles_missing = (
        sorted({r.key for r in playbook.stakeholder_roles} - set(covered)) if playbook else []
    )
    activities = [e for e in events if isinstance(e, pv.ActivityLogged)][-RECENT:]
    title = next((e.title for e in events if isinstance(e, pv.OpportunityOpened)), "")
    return av.RiskReport(
        title=title,
        stage=stage,
        next_stage=nxt.key if nxt else None,
        days_in_stage=history[-1].days if history else 0.0,
        stage_history=history,
        missing_for_next_stage=missing,
        missing_source=source,
        recent_activities=[
            av.ActivityNote(
                activity_id=a.activity_id,
                kind=a.kind,
                occurred_at=a.occurred_at,
                customer_facing=a.customer_facing,
                summary=a.summary,
                objections_raised=a.objections_raised,
                objections_resolved=a.objections_resolved,
            )
            for a in reversed(activities)
        ],
        objections=noted,
        stakeholder_roles_covered=covered,
        stakeholder_roles_missing=roles_missing,
        health=health,
        recommendations=recommendations(
            missing, [o for o in noted if not o.resolved], roles_missing, history
        ),
    )
