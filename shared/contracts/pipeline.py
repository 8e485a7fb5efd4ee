"""Events published by pipeline_svc on `pipeline.events`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.playbook import PlaybookDefinition
from shared.events.base import DomainEvent
from shared.events.registry import registry


class PipelineEvent(DomainEvent):
    domain: ClassVar[str] = "pipeline"


class OpportunityEvent(PipelineEvent):
    opportunity_id: str
    account_id: str


@registry.register
class PlaybookPublished(PipelineEvent):
    """A new playbook version is in force; stage gates use it from now on."""

    event_name: ClassVar[str] = "PlaybookPublished"
    playbook_version: int = Field(ge=1)
    definition: PlaybookDefinition
    published_by: str


@registry.register
class OpportunityOpened(OpportunityEvent):
    """A deal starts as a lead (线索)."""

    event_name: ClassVar[str] = "OpportunityOpened"
    title: str
    owner_id: str
    region: str
    team: str
    amount: Decimal
    currency: str
    expected_close_date: date
    stage: str
    playbook_version: int
    lead_source: str | None = None


@registry.register
class ActivityLogged(OpportunityEvent):
    """A follow-up (跟进行为): call, email, visit, meeting, demo, interview…"""

    event_name: ClassVar[str] = "ActivityLogged"
    activity_id: str
    kind: str
    customer_facing: bool
    stage: str
    actor_id: str
    actor_region: str
    contacts: list[str] = Field(default_factory=list)
    summary: str = ""
    objections_raised: list[str] = Field(default_factory=list)
    objections_resolved: list[str] = Field(default_factory=list)
    next_step: str | None = None
    source: Literal["manual", "email_sync", "phone_sync"] = "manual"
    external_id: str | None = None
    owning_region: str | None = Field(
        default=None,
        description="the region that owned the account when the activity was logged; the gate "
        "counts a customer-facing activity only when `actor_region` equals it (absent on events "
        "logged before this field existed: the deal's opening region applies)",
    )
    matched_accounts: list[str] = Field(
        default_factory=list,
        description="a synced log's contact also matched these other accounts; the contact is "
        "judged for cross-region conflicts against each of them as well",
    )


@registry.register
class ArtifactSubmitted(OpportunityEvent):
    """A structured document (材料) was filed; `fill_rate` is filled fields / all fields."""

    event_name: ClassVar[str] = "ArtifactSubmitted"
    artifact_id: str
    artifact_kind: str
    fields: dict[str, Any]
    fill_rate: float = Field(ge=0.0, le=1.0)
    requirement_document: bool = False
    stage: str
    submitted_by: str


@registry.register
class StakeholderMapped(OpportunityEvent):
    """A key person (关键人) at the account and their role in the deal."""

    event_name: ClassVar[str] = "StakeholderMapped"
    stakeholder_id: str
    name: str
    role: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    mapped_by: str


class MissingItem(BaseModel):
    """One unmet requirement of a stage gate."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str
    requirement: Literal["artifact", "activity", "stakeholder_roles"]
    stage: str
    gate: Literal["exit", "entry"]
    detail: str
    detail_zh: str


@registry.register
class StageAdvanced(OpportunityEvent):
    """The deal passed a stage gate."""

    event_name: ClassVar[str] = "StageAdvanced"
    from_stage: str
    to_stage: str
    playbook_version: int
    days_in_previous_stage: float


@registry.register
class StageAdvanceBlocked(OpportunityEvent):
    """An advance refused by the gate, with exactly what was missing (death-node raw material)."""

    event_name: ClassVar[str] = "StageAdvanceBlocked"
    from_stage: str
    to_stage: str
    playbook_version: int
    missing: list[MissingItem]
    actor_id: str


@registry.register
class OpportunityReassigned(OpportunityEvent):
    event_name: ClassVar[str] = "OpportunityReassigned"
    from_owner: str
    to_owner: str
    team: str
    reason: str | None = None
    actor_id: str


@registry.register
class OpportunityWon(OpportunityEvent):
    event_name: ClassVar[str] = "OpportunityWon"
    amount: Decimal
    stage: str
    reason: str
    actor_id: str


@registry.register
class OpportunityLost(OpportunityEvent):
    event_name: ClassVar[str] = "OpportunityLost"
    stage: str
    reason: str
    competitor: str | None = None
    actor_id: str


#: every event of `pipeline.events`: what a projection of the deals (alerts, scores) consumes
PIPELINE_EVENT_NAMES: tuple[str, ...] = (
    "PlaybookPublished",
    "OpportunityOpened",
    "ActivityLogged",
    "ArtifactSubmitted",
    "StakeholderMapped",
    "StageAdvanced",
    "StageAdvanceBlocked",
    "OpportunityReassigned",
    "OpportunityWon",
    "OpportunityLost",
)
