"""Builders for pipeline unit tests: a deal driven by decisions in sequence, on a clock we move."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.pipeline_svc.domain import commands as c
from services.pipeline_svc.domain.opportunity import Opportunity, open_opportunity
from services.pipeline_svc.domain.playbook import default_playbook
from shared.contracts import pipeline as ev
from shared.contracts.playbook import PlaybookDefinition
from shared.events.base import DomainEvent
from shared.identity import Principal

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PLAYBOOK: PlaybookDefinition = default_playbook()
PLAYBOOK_VERSION = 1
REP = Principal(sub="rep-east-1", role="rep", region="east", team="east-a")

#: the stages of the default playbook, in order
STAGES = [s.key for s in PLAYBOOK.stages]

#: every field of every artifact kind of the default playbook, filled
COMPLETE_FIELDS: dict[str, dict[str, Any]] = {
    "requirement_checklist": {
        "business_goals": ["cut downtime by 20%"],
        "scope": "two plants, 14 lines",
        "budget_range": "1.2M-1.5M CNY",
        "timeline": "go-live in Q4",
    },
    "needs_interview_notes": {
        "interviewees": ["plant manager", "maintenance lead"],
        "current_process": "paper work orders",
        "key_needs": ["predictive maintenance"],
        "success_criteria": "MTBF +15%",
        "constraints": "no downtime during installation",
    },
    "decision_chain_map": {
        "decision_maker": "COO",
        "influencers": ["CFO", "IT director"],
        "approval_process": "board sign-off above 1M",
    },
    "pain_point_ranking": {
        "ranked_pain_points": ["unplanned stops", "spare-part stock"],
        "quantified_impact": "4.1M CNY lost output per year",
    },
    "competitive_response_plan": {
        "competitors": ["Acme Industrial"],
        "our_differentiators": ["local service team"],
        "counter_strategy": "pilot on one line at cost",
    },
    "proposal": {"price": 1_350_000, "terms": "30% upfront", "valid_until": "2025-06-30"},
    "contract_review": {"legal_approved": True, "signed_amount": 1_320_000},
}

_ids = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@dataclass
class Deal:
    """One opportunity under test: its recorded events and the time on the test's clock.

    Every decision is taken on the fold of the events so far, and what it returns is recorded,
    as the application's handler would do.
    """

    opportunity_id: str
    now: datetime
    actor: Principal = REP
    playbook: PlaybookDefinition = PLAYBOOK
    events: list[DomainEvent] = field(default_factory=list)

    @property
    def opp(self) -> Opportunity:
        return Opportunity.fold(self.opportunity_id, self.events)

    def later(self, **delta: float) -> Deal:
        self.now += timedelta(**delta)
        return self

    def _record(self, events: list[DomainEvent]) -> list[DomainEvent]:
        self.events.extend(events)
        return events

    def log(
        self, kind: str, *, next_step: str | None = None, occurred_at: datetime | None = None
    ) -> list[DomainEvent]:
        cmd = c.LogActivity(
            opportunity_id=self.opportunity_id,
            activity_id=unique("act"),
            kind=kind,
            occurred_at=occurred_at,
            summary=f"{kind} with the customer",
            next_step=next_step,
        )
        return self._record(self.opp.log_activity(cmd, self.playbook, self.actor, self.now))

    def submit(self, kind: str, fields: dict[str, Any] | None = None) -> list[DomainEvent]:
        cmd = c.SubmitArtifact(
            opportunity_id=self.opportunity_id,
            artifact_id=unique("art"),
            kind=kind,
            fields=COMPLETE_FIELDS[kind] if fields is None else fields,
        )
        return self._record(self.opp.submit_artifact(cmd, self.playbook, self.actor, self.now))

    def map(self, role: str, stakeholder_id: str | None = None) -> list[DomainEvent]:
        cmd = c.MapStakeholder(
            opportunity_id=self.opportunity_id,
            stakeholder_id=stakeholder_id or unique("sh"),
            name=f"the {role}",
            role=role,
        )
        return self._record(self.opp.map_stakeholder(cmd, self.playbook, self.actor, self.now))

    def advance(self, to_stage: str | None = None) -> list[DomainEvent]:
        cmd = c.AdvanceStage(opportunity_id=self.opportunity_id, to_stage=to_stage)
        return self._record(
            self.opp.advance(cmd, self.playbook, PLAYBOOK_VERSION, self.actor, self.now)
        )

    def reassign(self, to_owner: str, team: str | None = None) -> list[DomainEvent]:
        cmd = c.ReassignOpportunity(
            opportunity_id=self.opportunity_id, to_owner=to_owner, team=team
        )
        return self._record(self.opp.reassign(cmd, self.actor, self.now))

    def win(self) -> list[DomainEvent]:
        return self.close("won", "best total cost of ownership")

    def lose(self, competitor: str | None = "Acme Industrial") -> list[DomainEvent]:
        return self.close("lost", "price", competitor)

    def close(self, outcome: str, reason: str, competitor: str | None = None) -> list[DomainEvent]:
        cmd = c.CloseOpportunity(
            opportunity_id=self.opportunity_id,
            outcome=outcome,  # type: ignore[arg-type]
            reason=reason,
            competitor=competitor,
        )
        return self._record(
            self.opp.close(cmd, self.playbook, PLAYBOOK_VERSION, self.actor, self.now)
        )

    # --- satisfying each gate of the default playbook, the way a diligent rep would ---

    def complete_stage(self) -> None:
        """Do what the current stage's exit gate and the next stage's entry gate ask."""
        stage = self.opp.stage
        if stage == "lead":
            self.log("call")
        elif stage == "initial_contact":
            self.submit("requirement_checklist")
        elif stage == "needs_confirmed":
            for kind in ("needs_interview_notes", "decision_chain_map", "pain_point_ranking"):
                self.submit(kind)
        elif stage == "solution_demo":
            self.log("demo", next_step="send the proposal by Friday")
            self.submit("competitive_response_plan")
            for role in ("decision_maker", "technical_evaluator", "finance_procurement"):
                self.map(role)
        elif stage == "negotiation":
            self.submit("proposal")
        elif stage == "closing":
            self.submit("contract_review")


def new_deal(
    *,
    now: datetime = T0,
    amount: Decimal = Decimal("1350000.00"),
    opportunity_id: str | None = None,
) -> Deal:
    """A lead just opened by REP at `now`."""
    deal = Deal(opportunity_id or unique("opp"), now)
    cmd = c.OpenOpportunity(
        opportunity_id=deal.opportunity_id,
        account_id="acc-huadong-steel",
        title="Predictive maintenance for two plants",
        owner_id=REP.sub,
        region=REP.region,
        team=REP.team,
        amount=amount,
        currency="CNY",
        expected_close_date=date(2025, 9, 30),
    )
    deal.events.append(open_opportunity(cmd, PLAYBOOK_VERSION, now))
    return deal


def deal_in(stage: str, *, now: datetime = T0) -> Deal:
    """A deal brought to `stage` by passing every earlier gate, one day per stage."""
    deal = new_deal(now=now)
    while deal.opp.stage != stage:
        deal.complete_stage()
        deal.later(days=1)
        (advanced,) = deal.advance()
        assert isinstance(advanced, ev.StageAdvanced), advanced
    return deal
