"""Commands the pipeline accepts: imperative names, plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal


@dataclass(frozen=True)
class PublishPlaybook:
    definition: dict[str, Any]


@dataclass(frozen=True)
class OpenOpportunity:
    opportunity_id: str
    account_id: str
    title: str
    owner_id: str
    region: str
    team: str
    amount: Decimal
    currency: str
    expected_close_date: date
    lead_source: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class LogActivity:
    opportunity_id: str
    activity_id: str
    kind: str
    occurred_at: datetime | None = None
    contacts: list[str] = field(default_factory=list)
    summary: str = ""
    objections_raised: list[str] = field(default_factory=list)
    objections_resolved: list[str] = field(default_factory=list)
    next_step: str | None = None
    source: Literal["manual", "email_sync", "phone_sync"] = "manual"
    external_id: str | None = None
    matched_accounts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubmitArtifact:
    opportunity_id: str
    artifact_id: str
    kind: str
    fields: dict[str, Any]
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class MapStakeholder:
    opportunity_id: str
    stakeholder_id: str
    name: str
    role: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class AdvanceStage:
    opportunity_id: str
    to_stage: str | None = None


@dataclass(frozen=True)
class ReassignOpportunity:
    opportunity_id: str
    to_owner: str
    team: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CloseOpportunity:
    opportunity_id: str
    outcome: Literal["won", "lost"]
    reason: str
    competitor: str | None = None
