"""Pipeline events of one deal, for the alert rules' unit tests (business time given by the test)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.contracts import pipeline as pv

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


class Deal:
    def __init__(self, opportunity_id: str = "opp-1", region: str = "east", owner: str = "rep-1"):
        self.ids = {"opportunity_id": opportunity_id, "account_id": "acct-1"}
        self.region, self.owner, self.stage = region, owner, "lead"

    def opened(self, at: datetime, amount: int = 100_000) -> pv.OpportunityOpened:
        return pv.OpportunityOpened(
            **self.ids,
            occurred_at=at,
            title="3 CNC lines",
            owner_id=self.owner,
            region=self.region,
            team=f"{self.region}-1",
            amount=Decimal(amount),
            currency="CNY",
            expected_close_date=date(2026, 12, 31),
            stage="lead",
            playbook_version=1,
        )

    def activity(
        self, at: datetime, kind: str = "call", customer_facing: bool = True, **kw: Any
    ) -> pv.ActivityLogged:
        return pv.ActivityLogged(
            **self.ids,
            occurred_at=at,
            activity_id=kw.pop("activity_id", f"act-{at.timestamp():.0f}"),
            kind=kind,
            customer_facing=customer_facing,
            stage=kw.pop("stage", self.stage),
            actor_id=self.owner,
            actor_region=self.region,
            **kw,
        )

    def advanced(self, at: datetime, to: str) -> pv.StageAdvanced:
        e = pv.StageAdvanced(
            **self.ids,
            occurred_at=at,
            from_stage=self.stage,
            to_stage=to,
            playbook_version=1,
            days_in_previous_stage=0.0,
        )
        self.stage = to
        return e

    def blocked(
        self, at: datetime, to: str, missing: list[pv.MissingItem]
    ) -> pv.StageAdvanceBlocked:
        return pv.StageAdvanceBlocked(
            **self.ids,
            occurred_at=at,
            from_stage=self.stage,
            to_stage=to,
            playbook_version=1,
            missing=missing,
            actor_id=self.owner,
        )

    def artifact(self, at: datetime, kind: str, fill_rate: float = 1.0) -> pv.ArtifactSubmitted:
        return pv.ArtifactSubmitted(
            **self.ids,
            occurred_at=at,
            artifact_id=f"art-{kind}",
            artifact_kind=kind,
            fields={},
            fill_rate=fill_rate,
            stage=self.stage,
            submitted_by=self.owner,
        )

    def stakeholder(self, at: datetime, role: str) -> pv.StakeholderMapped:
        return pv.StakeholderMapped(
            **self.ids,
            occurred_at=at,
            stakeholder_id=f"sh-{role}",
            name="Li Wei",
            role=role,
            mapped_by=self.owner,
        )

    def won(self, at: datetime) -> pv.OpportunityWon:
        return pv.OpportunityWon(
            **self.ids,
            occurred_at=at,
            amount=Decimal(1),
            stage=self.stage,
            reason="r",
            actor_id="x",
        )

    def lost(self, at: datetime) -> pv.OpportunityLost:
        return pv.OpportunityLost(
            **self.ids, occurred_at=at, stage=self.stage, reason="price", actor_id="x"
        )
