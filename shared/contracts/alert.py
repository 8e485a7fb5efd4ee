"""Events published by alert_svc on `alert.events`: rules, alerts and risk diagnosis reports.

Events about an opportunity carry its `region` (webhook subscriptions filter on it) and are
keyed by the account id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.rules import RouteRole, RuleDefinition, Severity
from shared.events.base import DomainEvent
from shared.events.registry import registry


class AlertServiceEvent(DomainEvent):
    domain: ClassVar[str] = "alert"


class RuleEvent(AlertServiceEvent):
    rule_id: str
    actor_id: str


@registry.register
class RuleDefined(RuleEvent):
    """A new timer rule, in force from now on."""

    event_name: ClassVar[str] = "RuleDefined"
    definition: RuleDefinition


@registry.register
class RuleChanged(RuleEvent):
    """A rule's definition was replaced; open subjects are re-planned under it."""

    event_name: ClassVar[str] = "RuleChanged"
    definition: RuleDefinition


@registry.register
class RuleDisabled(RuleEvent):
    event_name: ClassVar[str] = "RuleDisabled"


@registry.register
class RuleEnabled(RuleEvent):
    event_name: ClassVar[str] = "RuleEnabled"


class SubjectEvent(AlertServiceEvent):
    """An event about one opportunity."""

    opportunity_id: str
    account_id: str
    region: str


class AlertEvent(SubjectEvent):
    alert_id: str


@registry.register
class AlertRaised(AlertEvent):
    """A rule's timer expired (预警). `due_at` is business time; `raised_at` when it fired."""

    event_name: ClassVar[str] = "AlertRaised"
    rule_id: str
    rule_version: int
    rule_name: str
    message: str
    team: str
    owner_id: str
    recipients: list[str]
    routed_to: list[RouteRole]
    severity: Severity
    action: Literal["alert", "risk_report"]
    started_at: AwareDatetime
    due_at: AwareDatetime
    raised_at: AwareDatetime
    report_id: str | None = None


@registry.register
class AlertAcknowledged(AlertEvent):
    event_name: ClassVar[str] = "AlertAcknowledged"
    by: str
    comment: str = ""


@registry.register
class AlertResolved(AlertEvent):
    """Resolved by a person (`by`) or by itself when its condition cleared (`by` is None)."""

    event_name: ClassVar[str] = "AlertResolved"
    reason: str
    comment: str = ""
    by: str | None = None


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StageDwell(Model):
    stage: str
    entered_at: AwareDatetime
    left_at: AwareDatetime | None
    days: float
    team_median_days: float | None = None
    region_median_days: float | None = None


class ObjectionNote(Model):
    objection: str
    raised_at: AwareDatetime
    activity_id: str
    resolved: bool


class ActivityNote(Model):
    activity_id: str
    kind: str
    occurred_at: AwareDatetime
    customer_facing: bool
    summary: str
    objections_raised: list[str]
    objections_resolved: list[str]


class MissingNote(Model):
    code: str
    requirement: str
    detail: str


class Recommendation(Model):
    action: str
    closes_gap: str


class RiskReport(Model):
    """The content of a risk diagnosis report (风险诊断报告)."""

    title: str
    stage: str
    next_stage: str | None
    days_in_stage: float
    stage_history: list[StageDwell]
    missing_for_next_stage: list[MissingNote]
    missing_source: Literal["stage_advance_blocked", "playbook", "unknown"]
    recent_activities: list[ActivityNote]
    objections: list[ObjectionNote]
    stakeholder_roles_covered: list[str]
    stakeholder_roles_missing: list[str]
    health: dict[str, float] | None = None
    recommendations: list[Recommendation] = Field(default_factory=list)


@registry.register
class RiskReportGenerated(SubjectEvent):
    """A risk diagnosis report on a stalled opportunity, pushed to the workbench."""

    event_name: ClassVar[str] = "RiskReportGenerated"
    report_id: str
    rule_id: str
    alert_id: str | None
    team: str
    recipients: list[str]
    generated_at: AwareDatetime
    report: RiskReport
