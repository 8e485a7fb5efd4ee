"""The opportunity aggregate (商机): a fold of its events plus decisions that return new events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.pipeline_svc.domain import commands as c
from services.pipeline_svc.domain.artifacts import check_fields
from services.pipeline_svc.domain.errors import (
    GateBlockedError,
    LastStageError,
    OpportunityClosedError,
    StageNotInPlaybookError,
    UnknownKindError,
)
from services.pipeline_svc.domain.playbook import missing_for, next_stage_key
from shared.contracts import pipeline as ev
from shared.contracts.playbook import PlaybookDefinition
from shared.errors import ValidationFailedError
from shared.events.base import DomainEvent
from shared.identity import Principal

STREAM_TYPE = "opportunity"
#: raise when the meaning of the fold changes without its fields changing: old snapshots go
SNAPSHOT_SCHEMA = 1
MAX_FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ActivityRecord:
    activity_id: str
    kind: str
    customer_facing: bool
    stage: str
    occurred_at: datetime
    next_step: str | None
    actor_region: str = ""
    #: the region owning the account when it was logged: only its members' contacts move the deal
    owning_region: str = ""

    @property
    def by_owning_region(self) -> bool:
        return not self.actor_region or self.actor_region == self.owning_region

    @property
    def gate_facts(self) -> tuple[str, str, bool, bool]:
        """All a stage gate asks of an activity: later ones with the same facts add nothing."""
        return (self.kind, self.stage, self.by_owning_region, bool((self.next_step or "").strip()))


@dataclass(frozen=True)
class ArtifactRecord:
    artifact_id: str
    kind: str
    fill_rate: float
    stage: str
    submitted_at: datetime


@dataclass
class Opportunity:
    """`region` is the region that owns the deal's account: the opening region in the fold,
    replaced by collab's current word when a handler loads the deal (see `owned_by`)."""

    opportunity_id: str
    account_id: str = ""
    title: str = ""
    owner_id: str = ""
    region: str = ""
    team: str = ""
    amount: Decimal = Decimal(0)
    currency: str = "CNY"
    expected_close_date: date | None = None
    stage: str = "lead"
    status: str = "open"
    version: int = 0
    opened_at: datetime | None = None
    stage_entered_at: datetime | None = None
    last_customer_activity_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    #: the first activity of each distinct `gate_facts`, so a long history stays small
    activities: list[ActivityRecord] = field(default_factory=list)
    activity_count: int = 0
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    stakeholders: dict[str, tuple[str, str]] = field(default_factory=dict)
    blocked_attempts: int = 0
    #: business time of the stream's latest event (it never goes backwards)
    last_occurred_at: datetime | None = None

    @classmethod
    def fold(cls, opportunity_id: str, events: list[DomainEvent]) -> Opportunity:
        opp = cls(opportunity_id)
        for e in events:
            opp.apply(e)
        return opp

    def copy(self) -> Opportunity:
        """A copy whose changes never reach this one: the records are frozen and the scalars
        immutable, so fresh containers make it as independent as a deep copy."""
        twin = object.__new__(type(self))  # what copy.copy does, without its generic protocol
        twin.__dict__.update(self.__dict__)
        twin.activities = list(self.activities)
        twin.artifacts = list(self.artifacts)
        twin.stakeholders = dict(self.stakeholders)
        return twin

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def best_fill_rate(self, kind: str) -> float | None:
        rates = [a.fill_rate for a in self.artifacts if a.kind == kind]
        return max(rates) if rates else None

    def stakeholder_roles(self) -> set[str]:
        return {role for _, role in self.stakeholders.values()}

    def apply(self, e: DomainEvent) -> None:
        self.version += 1
        if self.last_occurred_at is None or e.occurred_at > self.last_occurred_at:
            self.last_occurred_at = e.occurred_at
        if isinstance(e, ev.OpportunityOpened):
            self.account_id, self.title, self.owner_id = e.account_id, e.title, e.owner_id
            self.region, self.team, self.amount = e.region, e.team, e.amount
            self.currency, self.expected_close_date = e.currency, e.expected_close_date
            self.stage, self.opened_at, self.stage_entered_at = (
                e.stage,
                e.occurred_at,
                e.occurred_at,
            )
        elif isinstance(e, ev.ActivityLogged):
            self.activity_count += 1
            record = ActivityRecord(
                e.activity_id,
                e.kind,
                e.customer_facing,
                e.stage,
                e.occurred_at,
                e.next_step,
                e.actor_region,
                e.owning_region or self.region,
            )
            if all(a.gate_facts != record.gate_facts for a in self.activities):
                self.activities.append(record)
            if e.customer_facing and (
                self.last_customer_activity_at is None
                or e.occurred_at > self.last_customer_activity_at
            ):
                self.last_customer_activity_at = e.occurred_at
        elif isinstance(e, ev.ArtifactSubmitted):
            self.artifacts.append(
                ArtifactRecord(e.artifact_id, e.artifact_kind, e.fill_rate, e.stage, e.occurred_at)
            )
        elif isinstance(e, ev.StakeholderMapped):
            self.stakeholders[e.stakeholder_id] = (e.name, e.role)
        elif isinstance(e, ev.StageAdvanced):
            self.stage, self.stage_entered_at = e.to_stage, e.occurred_at
        elif isinstance(e, ev.StageAdvanceBlocked):
            self.blocked_attempts += 1
        elif isinstance(e, ev.OpportunityReassigned):
            self.owner_id, self.team = e.to_owner, e.team
        elif isinstance(e, ev.OpportunityWon | ev.OpportunityLost):
            self.status = "won" if isinstance(e, ev.OpportunityWon) else "lost"
            self.closed_at, self.close_reason = e.occurred_at, e.reason

    def owned_by(self, region: str | None) -> None:
        """The account moved to `region` (collab's word); activities keep their own region."""
        if region:
            self.region = region

    # --- decisions: each returns the events to record, or raises ---

    def _base(self) -> dict[str, Any]:
        return {"opportunity_id": self.opportunity_id, "account_id": self.account_id}

    def _require_open(self) -> None:
        if not self.is_open:
            raise OpportunityClosedError(f"opportunity {self.opportunity_id} is {self.status}")

    def missing_for_next(self, playbook: PlaybookDefinition) -> tuple[str, list[ev.MissingItem]]:
        if self.stage not in {s.key for s in playbook.stages}:
            raise StageNotInPlaybookError(
                f"the deal sits in stage {self.stage}, which the playbook in force does not have: "
                "an admin publishes a playbook that has it again, or the deal is closed as lost",
                stage=self.stage,
            )
        to = next_stage_key(playbook, self.stage)
        return to, missing_for(self, playbook, self.stage, to)

    def log_activity(
        self, cmd: c.LogActivity, playbook: PlaybookDefinition, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        self._require_open()
        kind = playbook.activity_kind(cmd.kind)
        if kind is None:
            raise UnknownKindError(f"unknown activity kind '{cmd.kind}'", field="kind")
        at = business_time(cmd.occurred_at, now)
        return [
            ev.ActivityLogged(
                **self._base(),
                occurred_at=at,
                activity_id=cmd.activity_id,
                kind=cmd.kind,
                customer_facing=kind.customer_facing,
                stage=self.stage,
                actor_id=actor.sub,
                actor_region=actor.region,
                contacts=cmd.contacts,
                summary=cmd.summary,
                objections_raised=cmd.objections_raised,
                objections_resolved=cmd.objections_resolved,
                next_step=cmd.next_step,
                source=cmd.source,
                external_id=cmd.external_id,
                owning_region=self.region,
                matched_accounts=cmd.matched_accounts,
            )
        ]

    def submit_artifact(
        self, cmd: c.SubmitArtifact, playbook: PlaybookDefinition, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        self._require_open()
        kind = playbook.artifact_kind(cmd.kind)
        if kind is None:
            raise UnknownKindError(f"unknown artifact kind '{cmd.kind}'", field="kind")
        fields, rate = check_fields(kind, cmd.fields)
        return [
            ev.ArtifactSubmitted(
                **self._base(),
                occurred_at=business_time(cmd.occurred_at, now),
                artifact_id=cmd.artifact_id,
                artifact_kind=cmd.kind,
                fields=fields,
                fill_rate=rate,
                requirement_document=kind.requirement_document,
                stage=self.stage,
                submitted_by=actor.sub,
            )
        ]

    def map_stakeholder(
        self, cmd: c.MapStakeholder, playbook: PlaybookDefinition, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        self._require_open()
        if playbook.role(cmd.role) is None:
            raise UnknownKindError(f"unknown stakeholder role '{cmd.role}'", field="role")
        return [
            ev.StakeholderMapped(
                **self._base(),
                occurred_at=now,
                stakeholder_id=cmd.stakeholder_id,
                name=cmd.name,
                role=cmd.role,
                title=cmd.title,
                email=cmd.email,
                phone=cmd.phone,
                mapped_by=actor.sub,
            )
        ]

    def advance(
        self,
        cmd: c.AdvanceStage,
        playbook: PlaybookDefinition,
        playbook_version: int,
        actor: Principal,
        now: datetime,
    ) -> list[DomainEvent]:
        """StageAdvanced, or StageAdvanceBlocked listing what is missing (caller records it)."""
        self._require_open()
        to, missing = self.missing_for_next(playbook)
        if to == "won":
            raise LastStageError(
                f"{self.stage} is the last stage: close the deal as won or lost instead"
            )
        if cmd.to_stage is not None and cmd.to_stage != to:
            raise ValidationFailedError(
                f"stages advance one at a time: from {self.stage} the next stage is {to}",
                field="to_stage",
            )
        if missing:
            return [
                ev.StageAdvanceBlocked(
                    **self._base(),
                    occurred_at=now,
                    from_stage=self.stage,
                    to_stage=to,
                    playbook_version=playbook_version,
                    missing=missing,
                    actor_id=actor.sub,
                )
            ]
        entered = self.stage_entered_at or now
        return [
            ev.StageAdvanced(
                **self._base(),
                occurred_at=now,
                from_stage=self.stage,
                to_stage=to,
                playbook_version=playbook_version,
                days_in_previous_stage=round((now - entered).total_seconds() / 86400, 3),
            )
        ]

    def reassign(
        self, cmd: c.ReassignOpportunity, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        self._require_open()
        if cmd.to_owner == self.owner_id and (cmd.team or self.team) == self.team:
            raise ValidationFailedError("the opportunity already has that owner", field="to_owner")
        return [
            ev.OpportunityReassigned(
                **self._base(),
                occurred_at=now,
                from_owner=self.owner_id,
                to_owner=cmd.to_owner,
                team=cmd.team or self.team,
                reason=cmd.reason,
                actor_id=actor.sub,
            )
        ]

    def close(
        self,
        cmd: c.CloseOpportunity,
        playbook: PlaybookDefinition,
        playbook_version: int,
        actor: Principal,
        now: datetime,
    ) -> list[DomainEvent]:
        self._require_open()
        if cmd.outcome == "lost":
            return [
                ev.OpportunityLost(
                    **self._base(),
                    occurred_at=now,
                    stage=self.stage,
                    reason=cmd.reason,
                    competitor=cmd.competitor,
                    actor_id=actor.sub,
                )
            ]
        to, missing = self.missing_for_next(playbook)
        if to != "won":
            raise GateBlockedError(
                f"a deal is won from the last stage only; it is in {self.stage}",
                [],
                self.stage,
                "won",
            )
        if missing:
            return [
                ev.StageAdvanceBlocked(
                    **self._base(),
                    occurred_at=now,
                    from_stage=self.stage,
                    to_stage="won",
                    playbook_version=playbook_version,
                    missing=missing,
                    actor_id=actor.sub,
                )
            ]
        return [
            ev.OpportunityWon(
                **self._base(),
                occurred_at=now,
                amount=self.amount,
                stage=self.stage,
                reason=cmd.reason,
                actor_id=actor.sub,
            )
        ]


def open_opportunity(cmd: c.OpenOpportunity, playbook_version: int, now: datetime) -> DomainEvent:
    if cmd.amount < 0:
        raise ValidationFailedError("amount must not be negative", field="amount")
    return ev.OpportunityOpened(
        opportunity_id=cmd.opportunity_id,
        account_id=cmd.account_id,
        occurred_at=business_time(cmd.occurred_at, now),
        title=cmd.title,
        owner_id=cmd.owner_id,
        region=cmd.region,
        team=cmd.team,
        amount=cmd.amount,
        currency=cmd.currency,
        expected_close_date=cmd.expected_close_date,
        stage="lead",
        playbook_version=playbook_version,
        lead_source=cmd.lead_source,
    )


def business_time(given: datetime | None, now: datetime) -> datetime:
    """Callers may date an event (imported history) but not into the future."""
    if given is None:
        return now
    if given.tzinfo is None:
        raise ValidationFailedError("occurred_at needs a time zone", field="occurred_at")
    if given > now + MAX_FUTURE_SKEW:
        raise ValidationFailedError("occurred_at lies in the future", field="occurred_at")
    return given
