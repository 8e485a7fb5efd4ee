"""What the generator produces: business-time-stamped REST commands and what they should yield."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Service = Literal["pipeline", "collab"]

#: the order in which the driver plays the phases: what a later phase needs exists by then
PHASES = (
    "regions",
    "teams",
    "managers",
    "supervisors",
    "reps",
    "accounts",
    "contact requests",
    "deals",
)
#: the placeholder in paths for the id a service gave an entity the plan created earlier
REF = "{ref}"


@dataclass(frozen=True)
class Command:
    """One REST call. `stream` orders calls (business time only grows within a stream).
    A call that `creates` an entity whose id the service chooses (a deal, a contact request)
    names it; later calls name it as `ref`, and its id replaces REF in their `path`."""

    at: datetime
    phase: str
    stream: str
    service: Service
    path: str
    body: dict[str, Any]
    actor: str
    #: what it records: an event name of the owning service, e.g. "StageAdvanceBlocked"
    records: str
    expect: int = 200
    method: Literal["POST", "PUT"] = "POST"
    creates: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class Member:
    member_id: str
    name: str
    role: Literal["rep", "supervisor", "regional_manager"]
    region: str
    team: str
    manager_id: str | None


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    region: str
    city: str
    group_id: str | None
    industry: str


@dataclass
class DealRecord:
    """A deal's story in business time, kept to read the plan's own KPIs back."""

    key: str
    account_id: str
    owner: str
    region: str
    team: str
    opened_at: datetime
    first_response_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmation_complete: bool = False
    won_at: datetime | None = None
    lost_at: datetime | None = None
    stage: str = "lead"
    #: (time, stakeholder e-mail) of the stakeholders mapped, for synced contact logs
    contacts: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def closed_at(self) -> datetime | None:
        return self.won_at or self.lost_at


@dataclass
class Plan:
    start: datetime
    now: datetime
    members: dict[str, Member]
    accounts: list[Account]
    deals: list[DealRecord]
    commands: list[Command]
    #: business times of the contacts that break the region rule (each raises one conflict)
    conflicts: list[datetime]

    def expected_events(self, service: Service) -> Counter[str]:
        """How many events of each name the commands record in `service`'s store."""
        return Counter(c.records for c in self.commands if c.service == service)
