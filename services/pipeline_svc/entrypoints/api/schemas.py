"""Request and response schemas of the pipeline API (XCreate / XRead families)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.pipeline import MissingItem
from shared.http.types import BusinessDate, BusinessDateTime

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]
LongText = Annotated[str, Field(max_length=20_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: business time of a command; admins and importers may give it, members only within the
#: clock-skew tolerance (and, for activities, within the backdating window)
OccurredAt = Annotated[
    BusinessDateTime | None,
    Field(description="business time (imports: admins and the importer); default the server's now"),
]


class OpportunityCreate(Strict):
    account_id: Id
    title: ShortText
    owner_id: Id | None = Field(default=None, description="defaults to the caller")
    region: Id | None = Field(default=None, description="defaults to the caller's region")
    team: Id | None = Field(default=None, description="defaults to the caller's team")
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    expected_close_date: BusinessDate
    lead_source: ShortText | None = None
    occurred_at: BusinessDateTime | None = Field(
        default=None, description="business time the lead was captured (imports); default now"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "acme-shanghai",
                    "title": "Acme Shanghai — 3 CNC lines",
                    "amount": "1200000",
                    "currency": "CNY",
                    "expected_close_date": "2027-03-31",
                }
            ]
        },
    )


class ActivityCreate(Strict):
    kind: Id = Field(examples=["call", "visit", "demo", "interview"])
    occurred_at: BusinessDateTime | None = Field(
        default=None,
        description="when it happened; reps and managers may backdate up to the window "
        "(default 30 days), admins and the importer any time; default now",
    )
    contacts: list[ShortText] = Field(default_factory=list, max_length=50)
    summary: LongText = ""
    objections_raised: list[ShortText] = Field(default_factory=list, max_length=50)
    objections_resolved: list[ShortText] = Field(default_factory=list, max_length=50)
    next_step: LongText | None = None


class ArtifactCreate(Strict):
    kind: Id = Field(examples=["needs_interview_notes"])
    fields: dict[Id, Any] = Field(max_length=100)
    occurred_at: OccurredAt = None


class StakeholderCreate(Strict):
    name: ShortText
    role: Id = Field(examples=["decision_maker"])
    title: ShortText | None = None
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Annotated[str, Field(max_length=40, pattern=r"^[0-9+() -]+$")] | None = None
    occurred_at: OccurredAt = None


class AdvanceRequest(Strict):
    to_stage: Id | None = Field(default=None, description="optional: must be the next stage")
    occurred_at: OccurredAt = None


class ReassignRequest(Strict):
    to_owner: Id
    team: Id | None = None
    reason: ShortText | None = None
    occurred_at: OccurredAt = None


class CloseRequest(Strict):
    outcome: Literal["won", "lost"]
    reason: ShortText
    competitor: ShortText | None = None
    occurred_at: OccurredAt = None


class GateStatus(BaseModel):
    next_stage: str | None = Field(description="null when the deal's stage is not in the playbook")
    ready: bool
    missing: list[MissingItem]
    playbook_version: int
    stage_in_playbook: bool = True
    detail: str | None = None


class OpportunityRead(BaseModel):
    id: str
    account_id: str
    title: str
    owner_id: str
    region: str
    team: str
    amount: str
    currency: str
    expected_close_date: str | None
    stage: str
    stage_label: dict[str, str]
    status: Literal["open", "won", "lost"]
    version: int
    opened_at: str | None
    stage_entered_at: str | None
    last_customer_activity_at: str | None
    closed_at: str | None
    close_reason: str | None
    activity_count: int
    artifacts: list[dict[str, Any]]
    stakeholders: list[dict[str, Any]]
    gate: GateStatus | None
    updated_at: str


class ContactRecorded(BaseModel):
    """What a collaborator from another region (under a grant) gets back: the contact is on record."""

    id: str
    account_id: str
    region: str
    version: int


class OpportunityPage(BaseModel):
    items: list[OpportunityRead]
    next_cursor: str | None


class HistoryItem(BaseModel):
    event_id: str
    type: str
    version: int
    occurred_at: str
    recorded_at: str
    actor: str | None
    correlation_id: str | None
    data: dict[str, Any]


class HistoryPage(BaseModel):
    items: list[HistoryItem]
    next_cursor: str | None


class PlaybookRead(BaseModel):
    version: int
    definition: dict[str, Any]
