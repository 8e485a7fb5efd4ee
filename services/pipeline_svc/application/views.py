"""Rendering an opportunity for readers: state plus gate status (what is missing to advance)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.pipeline_svc.application.playbooks import PlaybookInForce
from services.pipeline_svc.domain.errors import StageNotInPlaybookError
from services.pipeline_svc.domain.opportunity import Opportunity


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def render(opp: Opportunity, pb: PlaybookInForce, updated_at: datetime) -> dict[str, Any]:
    definition = pb.definition
    try:
        stage_label = definition.stage(opp.stage).label.model_dump()
    except KeyError:
        stage_label = {"en": opp.stage, "zh": opp.stage}
    gate: dict[str, Any] | None = None
    if opp.is_open:
        gate = _gate(opp, pb)
    return {
        "id": opp.opportunity_id,
        "account_id": opp.account_id,
        "title": opp.title,
        "owner_id": opp.owner_id,
        "region": opp.region,
        "team": opp.team,
        "amount": str(opp.amount),
        "currency": opp.currency,
        "expected_close_date": opp.expected_close_date.isoformat()
        if opp.expected_close_date
        else None,
        "stage": opp.stage,
        "stage_label": stage_label,
        "status": opp.status,
        "version": opp.version,
        "opened_at": _iso(opp.opened_at),
        "stage_entered_at": _iso(opp.stage_entered_at),
        "last_customer_activity_at": _iso(opp.last_customer_activity_at),
        "closed_at": _iso(opp.closed_at),
        "close_reason": opp.close_reason,
        "activity_count": opp.activity_count,
        "artifacts": [
            {"artifact_id": a.artifact_id, "kind": a.kind, "fill_rate": a.fill_rate}
            for a in opp.artifacts
        ],
        "stakeholders": [
            {"stakeholder_id": sid, "name": name, "role": role}
            for sid, (name, role) in opp.stakeholders.items()
        ],
        "gate": gate,
        "updated_at": updated_at.isoformat(),
    }


def _gate(opp: Opportunity, pb: PlaybookInForce) -> dict[str, Any]:
    try:
        to, missing = opp.missing_for_next(pb.definition)
    except StageNotInPlaybookError as e:
        # a stage dropped by a later playbook: the deal still reads, and says why it cannot move
        return {
            "next_stage": None,
            "ready": False,
            "missing": [],
            "playbook_version": pb.version,
            "stage_in_playbook": False,
            "detail": e.detail,
        }
    return {
        "next_stage": to,
        "ready": not missing,
        "missing": [m.model_dump() for m in missing],
        "playbook_version": pb.version,
        "stage_in_playbook": True,
        "detail": None,
    }
