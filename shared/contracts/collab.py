"""Events published by collab_svc on `collab.events`: org directory, accounts, contact requests."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.base import DomainEvent
from shared.events.registry import registry

Role = Literal["rep", "supervisor", "regional_manager", "admin", "partner"]


class CollabEvent(DomainEvent):
    domain: ClassVar[str] = "collab"


@registry.register
class RegionDefined(CollabEvent):
    """A sales territory (区域), e.g. east 华东."""

    event_name: ClassVar[str] = "RegionDefined"
    region_id: str
    name: str
    name_zh: str | None = None
    actor_id: str


@registry.register
class TeamFormed(CollabEvent):
    """A region's team (团队)."""

    event_name: ClassVar[str] = "TeamFormed"
    team_id: str
    region_id: str
    name: str
    actor_id: str


@registry.register
class MemberAssigned(CollabEvent):
    """A member (成员) placed in a region and team with a role and a manager; sent again on change."""

    event_name: ClassVar[str] = "MemberAssigned"
    member_id: str
    name: str
    email: str | None = None
    role: Role
    region_id: str
    team_id: str
    manager_id: str | None = None
    actor_id: str


class AccountMasterData(CollabEvent):
    """The master data both account events carry in full (a later one replaces it)."""

    account_id: str
    name: str
    owning_region: str
    group_id: str | None = None
    industry: str | None = None
    contact_emails: list[str] = Field(default_factory=list)
    contact_phones: list[str] = Field(default_factory=list)
    actor_id: str


@registry.register
class AccountRegistered(AccountMasterData):
    """A customer company (客户) owned by exactly one region, optionally in a group (集团)."""

    event_name: ClassVar[str] = "AccountRegistered"


@registry.register
class AccountMasterDataUpdated(AccountMasterData):
    """Master data of an account changed (name, group, industry, contacts)."""

    event_name: ClassVar[str] = "AccountMasterDataUpdated"


@registry.register
class AccountOwnershipTransferred(CollabEvent):
    event_name: ClassVar[str] = "AccountOwnershipTransferred"
    account_id: str
    from_region: str
    to_region: str
    reason: str
    actor_id: str


@registry.register
class ContactRequested(CollabEvent):
    """A member outside the owning region asks to contact an account (协作申请)."""

    event_name: ClassVar[str] = "ContactRequested"
    request_id: str
    account_id: str
    owning_region: str
    requester_id: str
    requester_region: str
    requester_team: str
    purpose: str
    window_start: AwareDatetime
    window_end: AwareDatetime


@registry.register
class ContactApproved(CollabEvent):
    """The owning region grants contact until `valid_until` (a time-boxed grant)."""

    event_name: ClassVar[str] = "ContactApproved"
    request_id: str
    account_id: str
    owning_region: str
    requester_id: str
    requester_region: str
    approved_by: str
    valid_from: AwareDatetime
    valid_until: AwareDatetime


@registry.register
class ContactRejected(CollabEvent):
    event_name: ClassVar[str] = "ContactRejected"
    request_id: str
    account_id: str
    owning_region: str
    requester_id: str
    requester_region: str
    rejected_by: str
    reason: str


@registry.register
class ContactGrantExpired(CollabEvent):
    event_name: ClassVar[str] = "ContactGrantExpired"
    request_id: str
    account_id: str
    owning_region: str
    requester_id: str
    requester_region: str
    expired_at: datetime


@registry.register
class CrossRegionConflictDetected(CollabEvent):
    """A contact with an account by a non-owning region without a valid grant (跨区冲突)."""

    event_name: ClassVar[str] = "CrossRegionConflictDetected"
    conflict_id: str
    account_id: str
    group_id: str | None = None
    owning_region: str
    contact_region: str
    actor_id: str
    opportunity_id: str
    activity_id: str
    activity_kind: str
    source: str
    contact_at: AwareDatetime
