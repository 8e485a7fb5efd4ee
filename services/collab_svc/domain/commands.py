"""Commands collab accepts: imperative names, plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.identity import MemberRole


@dataclass(frozen=True)
class DefineRegion:
    region_id: str
    name: str
    name_zh: str | None = None


@dataclass(frozen=True)
class FormTeam:
    team_id: str
    region_id: str
    name: str


@dataclass(frozen=True)
class AssignMember:
    member_id: str
    name: str
    role: MemberRole
    region_id: str
    team_id: str
    email: str | None = None
    manager_id: str | None = None


@dataclass(frozen=True)
class RegisterAccount:
    account_id: str
    name: str
    owning_region: str
    group_id: str | None = None
    industry: str | None = None
    contact_emails: list[str] = field(default_factory=list)
    contact_phones: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateAccount:
    account_id: str
    name: str
    group_id: str | None = None
    industry: str | None = None
    contact_emails: list[str] = field(default_factory=list)
    contact_phones: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TransferAccount:
    account_id: str
    to_region: str
    reason: str


@dataclass(frozen=True)
class RequestContact:
    request_id: str
    account_id: str
    purpose: str
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class ApproveContact:
    request_id: str
    valid_until: datetime | None = None


@dataclass(frozen=True)
class RejectContact:
    request_id: str
    reason: str
