"""Small hand-written histories for the scoring arithmetic: events in business time."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.contracts import collab as cv
from shared.contracts import pipeline as pv
from shared.events.base import DomainEvent

TZ = ZoneInfo("Asia/Shanghai")
_ids = itertools.count(1)


def at(day: int, hour: int = 10, month: int = 11, year: int = 2026) -> datetime:
    """A Shanghai wall-clock instant (2026-11-16 is the Monday of ISO week 47)."""
    return datetime(year, month, day, hour, tzinfo=TZ)


class Deal:
    """One opportunity's events; `events` collects them in the order written."""

    def __init__(
        self,
        events: list[DomainEvent],
        opened: datetime,
        owner: str = "rep-a",
        region: str = "east",
        team: str = "east-1",
        account: str = "acct-1",
        amount: int = 100_000,
        close: date = date(2027, 3, 31),
    ) -> None:
        self.id = f"opp-{next(_ids)}"
        self.account = account
        self.events = events
        self.owner, self.region = owner, region
        self._add(
            pv.OpportunityOpened(
                **self._ids(),
                occurred_at=opened,
                title="deal",
                owner_id=owner,
                region=region,
                team=team,
                amount=Decimal(amount),
                currency="CNY",
                expected_close_date=close,
                stage="lead",
                playbook_version=1,
            )
        )
        self.stage = "lead"

    def _ids(self) -> dict[str, str]:
        return {"opportunity_id": self.id, "account_id": self.account}

    def _add(self, e: DomainEvent) -> Deal:
        self.events.append(e)
        return self

    def activity(
        self,
        when: datetime,
        *,
        region: str | None = None,
        actor: str | None = None,
        customer_facing: bool = True,
        kind: str = "call",
    ) -> Deal:
        return self._add(
            pv.ActivityLogged(
                **self._ids(),
                occurred_at=when,
                activity_id=f"act-{next(_ids)}",
                kind=kind,
                customer_facing=customer_facing,
                stage=self.stage,
                actor_id=actor or self.owner,
                actor_region=region or self.region,
            )
        )

    def artifact(self, when: datetime, kind: str, fill: float) -> Deal:
        return self._add(
            pv.ArtifactSubmitted(
                **self._ids(),
                occurred_at=when,
                artifact_id=f"art-{next(_ids)}",
                artifact_kind=kind,
                fields={},
                fill_rate=fill,
                stage=self.stage,
                submitted_by=self.owner,
            )
        )

    def role(self, when: datetime, role: str) -> Deal:
        return self._add(
            pv.StakeholderMapped(
                **self._ids(),
                occurred_at=when,
                stakeholder_id=f"sh-{next(_ids)}",
                name="x",
                role=role,
                mapped_by=self.owner,
            )
        )

    def advance(self, when: datetime, to: str) -> Deal:
        frm, self.stage = self.stage, to
        return self._add(
            pv.StageAdvanced(
                **self._ids(),
                occurred_at=when,
                from_stage=frm,
                to_stage=to,
                playbook_version=1,
                days_in_previous_stage=0.0,
            )
        )

    def blocked(self, when: datetime, to: str, *codes: str) -> Deal:
        missing = [
            pv.MissingItem(
                code=c,
                requirement="artifact",
                stage=self.stage,
                gate="exit",
                detail=c,
                detail_zh=c,
            )
            for c in codes
        ]
        return self._add(
            pv.StageAdvanceBlocked(
                **self._ids(),
                occurred_at=when,
                from_stage=self.stage,
                to_stage=to,
                playbook_version=1,
                missing=missing,
                actor_id=self.owner,
            )
        )

    def reassign(self, when: datetime, to: str, team: str = "east-1") -> Deal:
        frm, self.owner = self.owner, to
        return self._add(
            pv.OpportunityReassigned(
                **self._ids(),
                occurred_at=when,
                from_owner=frm,
                to_owner=to,
                team=team,
                actor_id="sup",
            )
        )

    def won(self, when: datetime, amount: int = 100_000) -> Deal:
        return self._add(
            pv.OpportunityWon(
                **self._ids(),
                occurred_at=when,
                amount=Decimal(amount),
                stage=self.stage,
                reason="ok",
                actor_id=self.owner,
            )
        )

    def lost(self, when: datetime) -> Deal:
        return self._add(
            pv.OpportunityLost(
                **self._ids(), occurred_at=when, stage=self.stage, reason="price", actor_id="x"
            )
        )


def member(
    when: datetime, member_id: str, region: str, team: str, role: str = "rep"
) -> DomainEvent:
    return cv.MemberAssigned(
        occurred_at=when,
        member_id=member_id,
        name=member_id,
        role=role,  # type: ignore[arg-type]
        region_id=region,
        team_id=team,
        actor_id="admin",
    )


def account(when: datetime, account_id: str, region: str) -> DomainEvent:
    return cv.AccountRegistered(
        occurred_at=when,
        account_id=account_id,
        name=account_id,
        owning_region=region,
        actor_id="admin",
    )


def transfer(when: datetime, account_id: str, frm: str, to: str) -> DomainEvent:
    return cv.AccountOwnershipTransferred(
        occurred_at=when,
        account_id=account_id,
        from_region=frm,
        to_region=to,
        reason="x",
        actor_id="admin",
    )


def days_later(t: datetime, d: float) -> datetime:
    return t + timedelta(days=d)


def team_week_47() -> list[DomainEvent]:
    """Reps a-d of east in ISO week 2026-W47 (E = Monday 2026-11-23 00:00 Shanghai)."""
    end = at(23, 0)
    ev: list[DomainEvent] = [
        member(at(1), "rep-a", "east", "east-1"),
        member(at(1), "rep-b", "east", "east-1"),
        member(at(1), "rep-c", "east", "east-1"),
        member(at(1), "rep-d", "east", "east-2"),
        member(at(25), "rep-b", "east", "east-2"),  # after E: rep-b is still in east-1 at E
        account(at(1), "acct-1", "east"),
    ]
    a = Deal(ev, at(1))
    a.advance(at(2), "initial_contact").advance(at(10), "needs_confirmed")
    a.activity(at(15)).activity(at(16)).activity(at(18)).activity(at(20))
    a.activity(at(19), region="south", actor="rep-s")  # another region's contact
    a.activity(at(17), customer_facing=False)  # internal
    a.artifact(at(5), "requirement_checklist", 0.72).artifact(at(12), "requirement_checklist", 0.81)
    a.artifact(at(17), "needs_interview_notes", 0.45)
    a.artifact(end, "competitive_response_plan", 1.0)  # at E, so not before E
    a.role(at(3), "decision_maker").role(at(4), "technical_evaluator").role(at(6), "decision_maker")
    b = Deal(ev, at(1))
    b.advance(at(3), "initial_contact").activity(at(19))
    b.artifact(at(22, 23), "requirement_checklist", 0.9)
    b.artifact(at(9), "needs_interview_notes", 0.3)  # does not apply at initial_contact
    for i, role in enumerate(("decision_maker", "finance", "user", "champion")):
        b.role(at(4 + i), role)
    Deal(ev, at(1)).activity(at(16)).lost(at(20))  # closed before E: not a subject
    Deal(ev, end)  # opened at E: not a subject
    Deal(ev, at(2)).reassign(at(21), "rep-b")  # rep-b's at E, with nothing done
    d = Deal(ev, at(2), owner="rep-d", team="east-2")
    d.activity(at(17)).activity(at(18))
    d.role(at(3), "a").role(at(3), "b").role(at(3), "c")
    return ev


def q1_pipeline() -> tuple[list[DomainEvent], Deal, Deal]:
    """Deals of 2027-Q1 as of its first day T (2027-01-01 00:00 Shanghai)."""
    t = datetime(2027, 1, 1, tzinfo=TZ)
    ev: list[DomainEvent] = []
    a = Deal(ev, at(1), amount=100_000, close=date(2027, 2, 15))
    a.advance(at(1, month=12), "negotiation")
    b = Deal(ev, at(1, month=12), amount=200_000, close=date(2027, 3, 31))
    Deal(ev, at(1), amount=500_000, close=date(2027, 4, 1))  # closes in Q2
    Deal(ev, at(1), amount=700_000, close=date(2027, 1, 10)).lost(at(20, month=12))
    Deal(ev, t, amount=900_000, close=date(2027, 1, 20))  # opened at T: not open at T
    return ev, a, b
