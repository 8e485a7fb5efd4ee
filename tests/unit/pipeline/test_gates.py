"""Stage gates of the default playbook: what a deal must show before it leaves or enters a stage."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest

from services.pipeline_svc.domain.errors import (
    GateBlockedError,
    LastStageError,
)
from services.pipeline_svc.domain.playbook import missing_for
from shared.contracts import pipeline as ev
from shared.errors import ValidationFailedError
from shared.events.base import DomainEvent
from tests.unit.pipeline.builders import (
    PLAYBOOK_VERSION,
    REP,
    STAGES,
    T0,
    Deal,
    deal_in,
    new_deal,
)

LEAD_ACTIVITY = "activity:call|email|visit|meeting|interview"
NEEDS_ARTIFACTS = ("needs_interview_notes", "decision_chain_map", "pain_point_ranking")


def blocked(events: list[DomainEvent]) -> ev.StageAdvanceBlocked:
    """The one event of a refused advance."""
    assert len(events) == 1
    (event,) = events
    assert isinstance(event, ev.StageAdvanceBlocked), event
    return event


def advanced(events: list[DomainEvent]) -> ev.StageAdvanced:
    assert len(events) == 1
    (event,) = events
    assert isinstance(event, ev.StageAdvanced), event
    return event


def missing_codes(events: list[DomainEvent]) -> list[str]:
    return [m.code for m in blocked(events).missing]


def at_solution_demo_ready_to_enter_negotiation() -> Deal:
    """A deal at solution_demo whose negotiation entry gate is already met."""
    deal = deal_in("solution_demo")
    deal.submit("competitive_response_plan")
    for role in ("decision_maker", "technical_evaluator", "finance_procurement"):
        deal.map(role)
    return deal


class TestLead:
    def test_a_fresh_lead_cannot_advance_without_a_customer_facing_activity(self) -> None:
        deal = new_deal()

        event = blocked(deal.advance())

        assert (event.from_stage, event.to_stage) == ("lead", "initial_contact")
        assert [m.model_dump() for m in event.missing] == [
            {
                "code": LEAD_ACTIVITY,
                "requirement": "activity",
                "stage": "lead",
                "gate": "exit",
                "detail": "a Call or Email or Visit or Meeting or Deep interview activity must be logged",
                "detail_zh": "需记录电话或邮件或拜访或会议或深度访谈活动",
            }
        ]
        assert deal.opp.stage == "lead"

    def test_an_internal_note_does_not_let_a_lead_advance(self) -> None:
        deal = new_deal()
        deal.log("note")

        assert missing_codes(deal.advance()) == [LEAD_ACTIVITY]

    @pytest.mark.parametrize("kind", ["call", "email", "visit", "meeting", "interview"])
    def test_a_lead_advances_after_one_customer_facing_activity(self, kind: str) -> None:
        deal = new_deal()
        deal.log(kind)

        event = advanced(deal.advance())

        assert (event.from_stage, event.to_stage) == ("lead", "initial_contact")
        assert deal.opp.stage == "initial_contact"


class TestInitialContact:
    def test_initial_contact_cannot_advance_without_a_requirement_checklist(self) -> None:
        deal = deal_in("initial_contact")
        deal.log("meeting")

        event = blocked(deal.advance())

        assert (event.from_stage, event.to_stage) == ("initial_contact", "needs_confirmed")
        assert [(m.code, m.requirement, m.stage, m.gate) for m in event.missing] == [
            ("artifact:requirement_checklist", "artifact", "initial_contact", "exit")
        ]

    def test_initial_contact_advances_once_the_requirement_checklist_is_filed(self) -> None:
        deal = deal_in("initial_contact")
        deal.submit("requirement_checklist")

        advanced(deal.advance())

        assert deal.opp.stage == "needs_confirmed"


class TestNeedsConfirmed:
    def test_needs_confirmed_lists_all_three_artifacts_when_none_is_filed(self) -> None:
        deal = deal_in("needs_confirmed")

        assert missing_codes(deal.advance()) == [f"artifact:{k}" for k in NEEDS_ARTIFACTS]

    @pytest.mark.parametrize("absent", NEEDS_ARTIFACTS)
    def test_needs_confirmed_cannot_advance_without_each_artifact(self, absent: str) -> None:
        deal = deal_in("needs_confirmed")
        for kind in NEEDS_ARTIFACTS:
            if kind != absent:
                deal.submit(kind)

        event = blocked(deal.advance())

        assert [(m.code, m.stage, m.gate) for m in event.missing] == [
            (f"artifact:{absent}", "needs_confirmed", "exit")
        ]
        assert deal.opp.stage == "needs_confirmed"

    def test_needs_confirmed_advances_with_all_three_artifacts(self) -> None:
        deal = deal_in("needs_confirmed")
        for kind in NEEDS_ARTIFACTS:
            deal.submit(kind)

        assert advanced(deal.advance()).to_stage == "solution_demo"


class TestSolutionDemo:
    def test_solution_demo_cannot_advance_without_a_demo(self) -> None:
        deal = at_solution_demo_ready_to_enter_negotiation()
        deal.log("meeting", next_step="agree on a demo date")

        event = blocked(deal.advance())

        assert [(m.code, m.requirement, m.stage, m.gate) for m in event.missing] == [
            ("activity:demo", "activity", "solution_demo", "exit")
        ]
        assert "next step" in event.missing[0].detail

    @pytest.mark.parametrize("next_step", [None, "", "   \n\t"], ids=["none", "empty", "blank"])
    def test_a_demo_without_a_next_step_does_not_open_the_gate(self, next_step: str | None) -> None:
        deal = at_solution_demo_ready_to_enter_negotiation()
        deal.log("demo", next_step=next_step)

        assert missing_codes(deal.advance()) == ["activity:demo"]

    def test_a_demo_logged_in_an_earlier_stage_does_not_count(self) -> None:
        deal = deal_in("needs_confirmed")
        deal.log("demo", next_step="send the proposal")
        deal.complete_stage()
        advanced(deal.advance())
        deal.submit("competitive_response_plan")
        for role in ("decision_maker", "technical_evaluator", "finance_procurement"):
            deal.map(role)

        assert missing_codes(deal.advance()) == ["activity:demo"]

    def test_a_demo_with_a_next_step_in_the_stage_lets_the_deal_enter_negotiation(self) -> None:
        deal = at_solution_demo_ready_to_enter_negotiation()
        deal.log("demo", next_step="send the proposal by Friday")

        event = advanced(deal.advance())

        assert (event.from_stage, event.to_stage) == ("solution_demo", "negotiation")


class TestNegotiationEntry:
    def test_entering_negotiation_needs_a_competitive_plan_and_three_roles(self) -> None:
        deal = deal_in("solution_demo")
        deal.log("demo", next_step="send the proposal by Friday")

        event = blocked(deal.advance())

        assert [(m.code, m.requirement, m.stage, m.gate) for m in event.missing] == [
            ("artifact:competitive_response_plan", "artifact", "negotiation", "entry"),
            ("stakeholder_roles:3", "stakeholder_roles", "negotiation", "entry"),
        ]

    def test_exit_items_are_listed_before_entry_items(self) -> None:
        deal = deal_in("solution_demo")

        event = blocked(deal.advance())

        assert [(m.code, m.gate) for m in event.missing] == [
            ("activity:demo", "exit"),
            ("artifact:competitive_response_plan", "entry"),
            ("stakeholder_roles:3", "entry"),
        ]

    def test_three_stakeholders_of_two_roles_do_not_cover_three_roles(self) -> None:
        deal = deal_in("solution_demo")
        deal.log("demo", next_step="send the proposal by Friday")
        deal.submit("competitive_response_plan")
        deal.map("decision_maker")
        deal.map("user")
        deal.map("user")

        event = blocked(deal.advance())

        assert [m.code for m in event.missing] == ["stakeholder_roles:3"]
        assert "(2 so far)" in event.missing[0].detail

    def test_remapping_a_stakeholder_to_another_role_replaces_its_role(self) -> None:
        deal = deal_in("solution_demo")
        deal.log("demo", next_step="send the proposal by Friday")
        deal.submit("competitive_response_plan")
        deal.map("decision_maker", stakeholder_id="sh-wang")
        deal.map("user", stakeholder_id="sh-li")
        deal.map("champion", stakeholder_id="sh-li")

        assert deal.opp.stakeholder_roles() == {"decision_maker", "champion"}
        assert missing_codes(deal.advance()) == ["stakeholder_roles:3"]

    def test_a_competitive_plan_alone_still_misses_the_roles(self) -> None:
        deal = deal_in("solution_demo")
        deal.log("demo", next_step="send the proposal by Friday")
        deal.submit("competitive_response_plan")

        assert missing_codes(deal.advance()) == ["stakeholder_roles:3"]

    def test_three_roles_alone_still_miss_the_competitive_plan(self) -> None:
        deal = deal_in("solution_demo")
        deal.log("demo", next_step="send the proposal by Friday")
        for role in ("decision_maker", "technical_evaluator", "user"):
            deal.map(role)

        assert missing_codes(deal.advance()) == ["artifact:competitive_response_plan"]


class TestNegotiationAndClosing:
    def test_negotiation_cannot_advance_without_a_proposal(self) -> None:
        deal = deal_in("negotiation")

        event = blocked(deal.advance())

        assert (event.to_stage, [m.code for m in event.missing]) == (
            "closing",
            ["artifact:proposal"],
        )

    def test_closing_cannot_be_won_without_a_contract_review(self) -> None:
        deal = deal_in("closing")

        event = blocked(deal.win())

        assert (event.from_stage, event.to_stage) == ("closing", "won")
        assert [(m.code, m.stage, m.gate) for m in event.missing] == [
            ("artifact:contract_review", "closing", "exit")
        ]
        assert deal.opp.status == "open"

    def test_closing_is_won_with_a_contract_review(self) -> None:
        deal = deal_in("closing")
        deal.submit("contract_review")

        (won,) = deal.win()

        assert isinstance(won, ev.OpportunityWon)
        assert (won.stage, won.amount) == ("closing", deal.opp.amount)
        assert deal.opp.status == "won"

    @pytest.mark.parametrize("stage", STAGES[:-1])
    def test_a_deal_is_won_from_the_last_stage_only(self, stage: str) -> None:
        deal = deal_in(stage)
        before = list(deal.events)

        with pytest.raises(GateBlockedError) as refused:
            deal.win()

        assert refused.value.extensions["to_stage"] == "won"
        assert deal.events == before

    def test_the_last_stage_cannot_advance_even_when_its_gate_is_met(self) -> None:
        deal = deal_in("closing")
        deal.submit("contract_review")
        before = list(deal.events)

        with pytest.raises(LastStageError, match="close the deal"):
            deal.advance()

        assert deal.events == before
        assert deal.opp.stage == "closing"


class TestAdvancing:
    def test_advance_refuses_to_skip_a_stage(self) -> None:
        deal = new_deal()
        deal.log("visit")
        before = list(deal.events)

        with pytest.raises(ValidationFailedError) as refused:
            deal.advance(to_stage="needs_confirmed")

        assert refused.value.extensions == {"field": "to_stage"}
        assert deal.events == before

    def test_advance_refuses_to_go_back_a_stage(self) -> None:
        deal = deal_in("needs_confirmed")

        with pytest.raises(ValidationFailedError):
            deal.advance(to_stage="initial_contact")

    def test_advance_accepts_the_next_stage_named_explicitly(self) -> None:
        deal = new_deal()
        deal.log("visit")

        assert advanced(deal.advance(to_stage="initial_contact")).to_stage == "initial_contact"

    def test_a_deal_walks_every_stage_in_playbook_order(self) -> None:
        deal = deal_in("closing")

        walked = [e for e in deal.events if isinstance(e, ev.StageAdvanced)]

        assert [(e.from_stage, e.to_stage) for e in walked] == list(pairwise(STAGES))

    def test_stage_advanced_carries_the_days_spent_in_the_previous_stage(self) -> None:
        deal = new_deal(now=T0)
        deal.later(hours=3).log("call")
        deal.later(days=2, hours=9)

        first = advanced(deal.advance())
        deal.later(days=4, hours=12).submit("requirement_checklist")
        second = advanced(deal.advance())

        assert (first.occurred_at, first.days_in_previous_stage) == (
            T0 + timedelta(days=2, hours=12),
            2.5,
        )
        assert (second.occurred_at, second.days_in_previous_stage) == (
            T0 + timedelta(days=7),
            4.5,
        )
        assert second.playbook_version == PLAYBOOK_VERSION
        assert deal.opp.stage_entered_at == T0 + timedelta(days=7)

    def test_a_blocked_advance_returns_exactly_what_is_missing_and_keeps_the_stage(self) -> None:
        deal = deal_in("needs_confirmed")
        deal.submit("decision_chain_map")

        event = blocked(deal.advance())

        assert event.model_dump(exclude={"missing", "occurred_at"}) == {
            "opportunity_id": deal.opportunity_id,
            "account_id": deal.opp.account_id,
            "from_stage": "needs_confirmed",
            "to_stage": "solution_demo",
            "playbook_version": PLAYBOOK_VERSION,
            "actor_id": REP.sub,
        }
        assert event.occurred_at == deal.now
        assert [m.code for m in event.missing] == [
            "artifact:needs_interview_notes",
            "artifact:pain_point_ranking",
        ]
        opp = deal.opp
        assert (opp.stage, opp.blocked_attempts) == ("needs_confirmed", 1)

    def test_missing_for_matches_what_the_blocked_event_lists(self) -> None:
        deal = deal_in("solution_demo")

        assert missing_for(deal.opp, deal.playbook, "solution_demo", "negotiation") == (
            blocked(deal.advance()).missing
        )
