"""Request and response schemas of the collab API (XCreate / XRead families)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.http.types import BusinessDateTime
from shared.identity import MemberRole

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, Field(max_length=40, pattern=r"^[0-9+() -]+$")]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
TimelineKind = Literal[
    "opportunity_opened",
    "activity",
    "artifact",
    "stage_advanced",
    "stage_blocked",
    "opportunity_won",
    "opportunity_lost",
    "contact_requested",
    "contact_approved",
    "contact_rejected",
    "contact_grant_expired",
    "ownership_transferred",
    "conflict",
]
RequestStatus = Literal["pending", "approved", "rejected", "expired"]
T = TypeVar("T")


class Strict(BaseModel):
    """A command body: strict fields, and the command's business time."""

    model_config = ConfigDict(extra="forbid")

    occurred_at: BusinessDateTime | None = Field(
        default=None,
        description="business time (imported history: admins and the importer only); "
        "default the server's now",
    )


class RegionCreate(Strict):
    region_id: Id = Field(examples=["east"])
    name: ShortText = Field(examples=["East"])
    name_zh: ShortText | None = Field(default=None, examples=["华东"])


class RegionRead(BaseModel):
    region_id: str
    name: str
    name_zh: str | None
    version: int
    updated_at: Timestamp


class TeamCreate(Strict):
    team_id: Id = Field(examples=["east-1"])
    region_id: Id = Field(examples=["east"])
    name: ShortText = Field(examples=["Shanghai key accounts"])


class TeamRead(BaseModel):
    team_id: str
    region_id: str
    name: str
    version: int
    updated_at: Timestamp


class MemberUpdate(Strict):
    """The whole assignment; PUT replaces it and records MemberAssigned again."""

    name: ShortText
    email: Email | None = None
    role: MemberRole
    region_id: Id
    team_id: Id = Field(description="a team of `region_id`")
    manager_id: Id | None = Field(default=None, description="another member of the directory")


class MemberCreate(MemberUpdate):
    member_id: Id = Field(description="the `sub` of the member's tokens", examples=["rep-east-1"])


class MemberRead(BaseModel):
    member_id: str
    name: str
    email: str | None
    role: MemberRole
    region_id: str
    team_id: str
    manager_id: str | None
    version: int
    updated_at: Timestamp


class AccountUpdate(Strict):
    """Master data, replaced as a whole; the owning region changes by transfer only."""

    name: ShortText
    group_id: Id | None = Field(default=None, description="the group (集团) it belongs to")
    industry: ShortText | None = None
    contact_emails: list[Email] = Field(default_factory=list, max_length=50)
    contact_phones: list[Phone] = Field(default_factory=list, max_length=50)


class AccountCreate(AccountUpdate):
    account_id: Id
    owning_region: Id | None = Field(default=None, description="defaults to the caller's region")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "acme-sh",
                    "name": "Acme Shanghai",
                    "owning_region": "east",
                    "group_id": "acme-group",
                    "industry": "industrial equipment",
                    "contact_emails": ["cto@acme.example"],
                }
            ]
        },
    )


class AccountTransfer(Strict):
    to_region: Id
    reason: ShortText


class AccountRead(BaseModel):
    account_id: str
    name: str
    owning_region: str
    group_id: str | None
    industry: str | None
    contact_emails: list[str]
    contact_phones: list[str]
    version: int
    registered_at: Timestamp
    updated_at: Timestamp


class ContactRequestCreate(Strict):
    purpose: ShortText = Field(examples=["joint technical session with the Guangzhou plant"])
    window_start: BusinessDateTime
    window_end: BusinessDateTime = Field(description="after window_start, at most 90 days later")


class ContactApproval(Strict):
    valid_until: BusinessDateTime | None = Field(
        default=None, description="at most the window's end (the default)"
    )


class ContactRejection(Strict):
    reason: ShortText


class ContactRequestRead(BaseModel):
    request_id: str
    account_id: str
    owning_region: str
    requester_id: str
    requester_region: str
    requester_team: str
    purpose: str
    window_start: Timestamp
    window_end: Timestamp
    status: RequestStatus
    requested_at: Timestamp
    decided_by: str | None
    decided_at: Timestamp | None
    reason: str | None
    valid_from: Timestamp | None
    valid_until: Timestamp | None
    expired_at: Timestamp | None
    version: int


class TimelineEntryRead(BaseModel):
    event_id: str
    account_id: str
    group_id: str | None
    kind: TimelineKind
    region: str | None = Field(description="the region that acted")
    actor: str | None
    occurred_at: Timestamp
    data: dict[str, Any] = Field(description="the event's payload")


class WeekCount(BaseModel):
    week: str = Field(examples=["2026-W05"])
    week_start: str = Field(description="the week's Monday", examples=["2026-01-26"])
    activities: int


class ContactFrequencyRead(BaseModel):
    account_id: str
    contact: str
    total: int
    weeks: list[WeekCount]


class ConflictRead(BaseModel):
    conflict_id: str
    account_id: str
    group_id: str | None
    owning_region: str
    contact_region: str
    actor_id: str
    opportunity_id: str
    activity_id: str
    activity_kind: str
    source: str
    contact_at: Timestamp
    detected_at: Timestamp


class RegionConflicts(BaseModel):
    region: str
    as_owner: int = Field(description="conflicts on this region's accounts")
    as_contact: int = Field(description="conflicts this region's members caused")
    total: int


class ConflictSummary(BaseModel):
    month: str
    regions: list[RegionConflicts]


class Page(BaseModel, Generic[T]):
    """A page of a list; pass `next_cursor` as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None
