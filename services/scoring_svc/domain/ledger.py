"""The facts scoring reads, folded from pipeline and collab events, queried as of any instant.

Every query takes the instant it looks from, so one ledger answers any week, period or
backtest date without anything after that instant leaking in.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from shared.contracts import collab as cv
from shared.contracts import pipeline as pv
from shared.events.base import DomainEvent

DEFAULT_STAGES = (
    "lead",
    "initial_contact",
    "needs_confirmed",
    "solution_demo",
    "negotiation",
    "closing",
)


@dataclass(frozen=True, slots=True)
class Activity:
    at: datetime
    actor_id: str
    actor_region: str
    customer_facing: bool
    objections_raised: int
    objections_resolved: int


@dataclass(frozen=True, slots=True)
class Artifact:
    at: datetime
    kind: str
    fill_rate: float


@dataclass(frozen=True, slots=True)
class Blocked:
    at: datetime
    from_stage: str
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Close:
    at: datetime
    won: bool
    stage: str
    amount: Decimal


def _last_before(times: list[datetime], t: datetime, inclusive: bool) -> int:
    """Index of the last entry at or before (inclusive) / strictly before t, or -1."""
    return (bisect_right(times, t) if inclusive else bisect_left(times, t)) - 1


@dataclass
class Deal:
    """One opportunity's history in business time."""

    opportunity_id: str
    account_id: str
    opened_at: datetime
    region: str
    team: str
    amount: Decimal
    expected_close: date
    #: (since, owner, team the pipeline recorded) in business time
    owners: list[tuple[datetime, str, str]] = field(default_factory=list)
    #: (entered at, stage); the first entry is the opening stage
    stages: list[tuple[datetime, str]] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    roles: list[tuple[datetime, str]] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    close: Close | None = None

    def opened_before(self, t: datetime) -> bool:
        return self.opened_at < t

    def open_at(self, t: datetime) -> bool:
        """Opened before t and neither won nor lost before t."""
        return self.opened_at < t and (self.close is None or self.close.at >= t)

    def closed_before(self, t: datetime) -> Close | None:
        return self.close if self.close is not None and self.close.at < t else None

    def owner_at(self, t: datetime, inclusive: bool = False) -> tuple[str, str]:
        """(owner, recorded team) as of t: before t, or at or before t when inclusive."""
        i = _last_before([o[0] for o in self.owners], t, inclusive)
        _, owner, team = self.owners[max(i, 0)]
        return owner, team

    def stage_at(self, t: datetime, inclusive: bool = False) -> str:
        i = _last_before([s[0] for s in self.stages], t, inclusive)
        return self.stages[max(i, 0)][1]

    def entered_at(self, t: datetime) -> datetime:
        """When the deal entered the stage it is in before t."""
        i = _last_before([s[0] for s in self.stages], t, False)
        return self.stages[max(i, 0)][0]

    def best_fill(self, kind: str, t: datetime, inclusive: bool = False) -> float:
        """The best fill rate of `kind` submitted before t (0 if none)."""
        rates = [
            a.fill_rate
            for a in self.artifacts
            if a.kind == kind and (a.at <= t if inclusive else a.at < t)
        ]
        return max(rates, default=0.0)

    def roles_before(self, t: datetime) -> set[str]:
        return {role for at, role in self.roles if at < t}


@dataclass
class Ledger:
    deals: dict[str, Deal] = field(default_factory=dict)
    #: member → [(since, region, team, role)]
    members: dict[str, list[tuple[datetime, str, str, str]]] = field(default_factory=dict)
    #: account → [(since, owning region)]
    accounts: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    conflicts: list[cv.CrossRegionConflictDetected] = field(default_factory=list)
    #: [(published at, stage keys)]
    playbooks: list[tuple[datetime, tuple[str, ...]]] = field(default_factory=list)

    @classmethod
    def build(cls, events: Iterable[DomainEvent]) -> Ledger:
        """Fold events in business-time order (arrival order does not matter)."""
        ordered = sorted(events, key=lambda e: e.occurred_at)
        ledger = cls()
        for e in ordered:
            if type(e) is pv.OpportunityOpened:
                ledger._open(e)
        for e in ordered:
            if type(e) is not pv.OpportunityOpened:
                ledger.apply(e)
        return ledger

    def _open(self, e: pv.OpportunityOpened) -> None:
        self.deals[e.opportunity_id] = Deal(
            e.opportunity_id,
            e.account_id,
            e.occurred_at,
            e.region,
            e.team,
            e.amount,
            e.expected_close_date,
            owners=[(e.occurred_at, e.owner_id, e.team)],
            stages=[(e.occurred_at, e.stage)],
        )

    def apply(self, e: DomainEvent) -> None:
        at = e.occurred_at
        if isinstance(e, pv.OpportunityEvent):
            deal = self.deals.get(e.opportunity_id)
            if deal is not None:
                _apply_to_deal(deal, e)
        elif isinstance(e, cv.MemberAssigned):
            self.members.setdefault(e.member_id, []).append((at, e.region_id, e.team_id, e.role))
        elif isinstance(e, cv.AccountRegistered):
            self.accounts.setdefault(e.account_id, []).append((at, e.owning_region))
        elif isinstance(e, cv.AccountOwnershipTransferred):
            self.accounts.setdefault(e.account_id, []).append((at, e.to_region))
        elif isinstance(e, cv.CrossRegionConflictDetected):
            self.conflicts.append(e)
        elif isinstance(e, pv.PlaybookPublished):
            self.playbooks.append((at, tuple(s.key for s in e.definition.stages)))

    def stages(self, t: datetime | None = None) -> tuple[str, ...]:
        """The playbook's stage order in force at t (the latest if t is None)."""
        if not self.playbooks:
            return DEFAULT_STAGES
        known = [p for p in self.playbooks if t is None or p[0] <= t]
        return known[-1][1] if known else DEFAULT_STAGES

    def position(self, member: str, t: datetime) -> tuple[str, str, str] | None:
        """(region, team, role) of a member at t (inclusive), if the directory knows them."""
        history = self.members.get(member)
        if not history:
            return None
        i = _last_before([h[0] for h in history], t, True)
        return None if i < 0 else history[i][1:]

    def owning_region(self, deal: Deal, t: datetime) -> str:
        """The region owning the deal's account at t; the deal's region if collab is silent."""
        history = self.accounts.get(deal.account_id)
        if history:
            i = _last_before([h[0] for h in history], t, True)
            if i >= 0:
                return history[i][1]
        return deal.region

    def customer_facing(self, deal: Deal, a: Activity) -> bool:
        """Customer contact by a member of the deal's owning region (collaborators excluded)."""
        return a.customer_facing and a.actor_region == self.owning_region(deal, a.at)

    def owner_position(self, deal: Deal, t: datetime) -> tuple[str, str, str]:
        """(owner, team, region) of the deal at t (inclusive) as the org directory places them."""
        owner, team = deal.owner_at(t, inclusive=True)
        pos = self.position(owner, t)
        if pos is None:
            return owner, team, deal.region
        return owner, pos[1], pos[0]


def _apply_to_deal(deal: Deal, e: pv.OpportunityEvent) -> None:
    at = e.occurred_at
    if isinstance(e, pv.ActivityLogged):
        deal.activities.append(
            Activity(
                at,
                e.actor_id,
                e.actor_region,
                e.customer_facing,
                len(e.objections_raised),
                len(e.objections_resolved),
            )
        )
    elif isinstance(e, pv.ArtifactSubmitted):
        deal.artifacts.append(Artifact(at, e.artifact_kind, e.fill_rate))
    elif isinstance(e, pv.StakeholderMapped):
        deal.roles.append((at, e.role))
    elif isinstance(e, pv.StageAdvanced):
        deal.stages.append((at, e.to_stage))
    elif isinstance(e, pv.StageAdvanceBlocked):
        deal.blocked.append(Blocked(at, e.from_stage, tuple(m.code for m in e.missing)))
    elif isinstance(e, pv.OpportunityReassigned):
        deal.owners.append((at, e.to_owner, e.team))
    elif isinstance(e, pv.OpportunityWon):
        deal.close = Close(at, True, e.stage, e.amount)
    elif isinstance(e, pv.OpportunityLost):
        deal.close = Close(at, False, e.stage, deal.amount)
