"""Request and response schemas of the alert API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.rules import RuleDefinition, RuleId


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleCreate(RuleDefinition):
    """A new rule: its definition plus an optional id (else one is made from the name)."""

    rule_id: RuleId | None = Field(default=None, examples=["quiet-negotiation"])


class RuleRead(BaseModel):
    rule_id: str
    enabled: bool
    version: int
    updated_at: str
    definition: RuleDefinition


class FiringRead(BaseModel):
    opportunity_id: str
    started_at: AwareDatetime
    due_at: AwareDatetime


class SimulationRead(BaseModel):
    as_of: AwareDatetime
    subjects: int = Field(description="opportunities replayed")
    firings: list[FiringRead]


class AcknowledgeBody(Strict):
    comment: str = Field(default="", max_length=2000)


class ResolveBody(Strict):
    reason: str = Field(default="resolved by hand", min_length=1, max_length=200)
    comment: str = Field(min_length=1, max_length=2000)


AlertStatus = Literal["raised", "acknowledged", "resolved"]


class AlertRead(BaseModel):
    alert_id: str
    rule_id: str
    rule_name: str
    message: str
    opportunity_id: str
    account_id: str
    region: str
    team: str
    owner_id: str
    recipients: list[str]
    severity: str
    action: str
    status: AlertStatus
    started_at: str
    due_at: str
    raised_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    resolution_reason: str | None
    resolution_comment: str | None
    resolved_by: str | None
    report_id: str | None
    version: int
    links: dict[str, str]


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None


class ReportRead(BaseModel):
    report_id: str
    rule_id: str
    alert_id: str | None
    opportunity_id: str
    account_id: str
    region: str
    team: str
    recipients: list[str]
    generated_at: str
    content: dict[str, Any]
    links: dict[str, str]


class ReportPage(BaseModel):
    items: list[ReportRead]
    next_cursor: str | None


class RuleCount(BaseModel):
    rule_id: str
    rule_name: str
    open: int


class Workbench(BaseModel):
    member_id: str
    scope: Literal["all", "region", "team", "own"]
    items: list[AlertRead]
    counts: list[RuleCount]
