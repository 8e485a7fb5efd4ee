"""The opportunity a rule watches, as projected from pipeline events (business time throughout)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.contracts import pipeline as pv
from shared.contracts.rules import When
from shared.events.base import DomainEvent

DAY_S = 86_400.0


def days_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / DAY_S


@dataclass
class Subject:
    opportunity_id: str
    account_id: str = ""
    owner_id: str = ""
    team: str = ""
    region: str = ""
    amount: Decimal = Decimal(0)
    stage: str = ""
    stage_entered_at: datetime | None = None
    previous_stage: str | None = None
    previous_stage_dwell_days: float | None = None
    status: str = "open"
    opened_at: datetime | None = None

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, pv.OpportunityEvent):
            self.account_id = event.account_id
        if isinstance(event, pv.OpportunityOpened):
            self.owner_id, self.team, self.region = event.owner_id, event.team, event.region
            self.amount, self.stage = event.amount, event.stage
            self.stage_entered_at = self.opened_at = event.occurred_at
        elif isinstance(event, pv.StageAdvanced):
            entered = self.stage_entered_at or event.occurred_at
            self.previous_stage = event.from_stage
            self.previous_stage_dwell_days = days_between(entered, event.occurred_at)
            self.stage, self.stage_entered_at = event.to_stage, event.occurred_at
        elif isinstance(event, pv.OpportunityReassigned):
            self.owner_id, self.team = event.to_owner, event.team
        elif isinstance(event, pv.OpportunityWon):
            self.status, self.amount = "won", event.amount
        elif isinstance(event, pv.OpportunityLost):
            self.status = "lost"

    def satisfies(self, when: When) -> bool:
        if when.stage_in is not None and self.stage not in when.stage_in:
            return False
        if when.region_in is not None and self.region not in when.region_in:
            return False
        if when.amount_gte is not None and self.amount < when.amount_gte:
            return False
        if when.previous_stage_dwell_days_gt is not None:
            dwell = self.previous_stage_dwell_days
            if dwell is None or dwell <= when.previous_stage_dwell_days_gt:
                return False
        return True
