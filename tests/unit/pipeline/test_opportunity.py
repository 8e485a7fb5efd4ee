"""The opportunity aggregate: what its fold remembers and which decisions it refuses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.pipeline_svc.domain import commands as c
from services.pipeline_svc.domain.errors import OpportunityClosedError, UnknownKindError
from services.pipeline_svc.domain.opportunity import (
    MAX_FUTURE_SKEW,
    Opportunity,
    business_time,
    open_opportunity,
)
from shared.contracts import pipeline as ev
from shared.errors import ValidationFailedError
from shared.identity import Principal
from tests.unit.pipeline.builders import (
    PLAYBOOK_VERSION,
    REP,
    T0,
    Deal,
    deal_in,
    new_deal,
)


class TestFold:
    def test_an_empty_stream_folds_to_an_opportunity_that_does_not_exist(self) -> None:
        opp = Opportunity.fold("opp-none", [])

        assert (opp.exists, opp.version, opp.stage, opp.status) == (False, 0, "lead", "open")

    def test_opening_sets_the_deal_and_its_first_stage(self) -> None:
        deal = new_deal(amount=Decimal("880000.00"))

        opp = deal.opp

        assert opp.exists
        assert (opp.version, opp.stage, opp.status) == (1, "lead", "open")
        assert (opp.owner_id, opp.region, opp.team) == (REP.sub, REP.region, REP.team)
        assert (opp.amount, opp.currency) == (Decimal("880000.00"), "CNY")
        assert opp.opened_at == opp.stage_entered_at == T0

    def test_every_event_counts_one_version_blocked_attempts_included(self) -> None:
        deal = new_deal()
        deal.advance()  # blocked: no activity yet
        deal.log("note")
        deal.log("call")
        deal.map("champion")
        deal.advance()

        opp = deal.opp

        assert opp.version == len(deal.events) == 6
        assert (opp.stage, opp.blocked_attempts) == ("initial_contact", 1)

    def test_folding_twice_gives_the_same_state(self) -> None:
        deal = deal_in("negotiation")

        assert Opportunity.fold(deal.opportunity_id, deal.events) == deal.opp

    def test_the_owner_and_team_follow_a_reassignment(self) -> None:
        deal = new_deal()
        deal.actor = Principal(sub="sup-east", role="supervisor", region="east", team="east-a")

        (event,) = deal.reassign("rep-east-2", team="east-b")

        assert isinstance(event, ev.OpportunityReassigned)
        assert (event.from_owner, event.to_owner, event.team, event.actor_id) == (
            REP.sub,
            "rep-east-2",
            "east-b",
            "sup-east",
        )
        assert (deal.opp.owner_id, deal.opp.team) == ("rep-east-2", "east-b")

    def test_reassigning_to_the_current_owner_is_refused(self) -> None:
        deal = new_deal()

        with pytest.raises(ValidationFailedError) as refused:
            deal.reassign(REP.sub)

        assert refused.value.extensions == {"field": "to_owner"}

    def test_a_won_deal_records_its_status_close_time_and_reason(self) -> None:
        deal = deal_in("closing")
        deal.submit("contract_review")
        deal.later(days=2)

        deal.win()

        opp = deal.opp
        assert (opp.status, opp.is_open) == ("won", False)
        assert (opp.closed_at, opp.close_reason) == (deal.now, "best total cost of ownership")

    def test_a_lost_deal_records_its_status_stage_and_competitor(self) -> None:
        deal = deal_in("needs_confirmed")

        (event,) = deal.lose(competitor="Acme Industrial")

        assert isinstance(event, ev.OpportunityLost)
        assert (event.stage, event.reason, event.competitor) == (
            "needs_confirmed",
            "price",
            "Acme Industrial",
        )
        assert (deal.opp.status, deal.opp.closed_at) == ("lost", deal.now)

    def test_a_lead_may_be_lost_without_any_gate(self) -> None:
        deal = new_deal()

        deal.lose(competitor=None)

        assert deal.opp.status == "lost"

    def test_last_customer_activity_ignores_internal_notes(self) -> None:
        deal = new_deal()
        deal.later(hours=1).log("call")
        deal.later(days=3).log("note")

        assert deal.opp.last_customer_activity_at == T0 + timedelta(hours=1)

    def test_a_lead_with_only_notes_has_no_customer_activity(self) -> None:
        deal = new_deal()
        deal.log("note")

        (logged,) = deal.events[1:]

        assert isinstance(logged, ev.ActivityLogged)
        assert logged.customer_facing is False
        assert deal.opp.last_customer_activity_at is None

    def test_imported_older_activity_does_not_move_last_customer_activity_back(self) -> None:
        deal = new_deal()
        deal.later(days=5).log("visit")
        deal.log("email", occurred_at=T0 + timedelta(days=1))

        assert deal.opp.last_customer_activity_at == T0 + timedelta(days=5)

    def test_an_activity_records_the_stage_and_actor_it_was_logged_in(self) -> None:
        deal = deal_in("solution_demo")

        (event,) = deal.log("demo", next_step="pilot proposal")

        assert isinstance(event, ev.ActivityLogged)
        assert (event.stage, event.actor_id, event.actor_region, event.next_step) == (
            "solution_demo",
            REP.sub,
            REP.region,
            "pilot proposal",
        )
        assert deal.opp.activities[-1].stage == "solution_demo"


def _log(deal: Deal) -> object:
    return deal.log("call")


def _submit(deal: Deal) -> object:
    return deal.submit("requirement_checklist")


def _map(deal: Deal) -> object:
    return deal.map("champion")


def _advance(deal: Deal) -> object:
    return deal.advance()


def _reassign(deal: Deal) -> object:
    return deal.reassign("rep-east-2")


def _win(deal: Deal) -> object:
    return deal.win()


def _lose(deal: Deal) -> object:
    return deal.lose()


DECISIONS: dict[str, Callable[[Deal], object]] = {
    "log_activity": _log,
    "submit_artifact": _submit,
    "map_stakeholder": _map,
    "advance": _advance,
    "reassign": _reassign,
    "close_won": _win,
    "close_lost": _lose,
}


class TestClosedDeals:
    @pytest.mark.parametrize("outcome", ["won", "lost"])
    @pytest.mark.parametrize("decision", DECISIONS.values(), ids=DECISIONS.keys())
    def test_a_closed_deal_refuses_every_decision(
        self, outcome: str, decision: Callable[[Deal], object]
    ) -> None:
        deal = deal_in("closing")
        deal.submit("contract_review")
        if outcome == "won":
            deal.win()
        else:
            deal.lose()
        before = list(deal.events)

        with pytest.raises(OpportunityClosedError) as refused:
            decision(deal)

        assert refused.value.status == 409
        assert deal.events == before
        assert deal.opp.status == outcome


class TestUnknownKinds:
    def test_an_unknown_activity_kind_is_refused(self) -> None:
        deal = new_deal()

        with pytest.raises(UnknownKindError, match="carrier_pigeon") as refused:
            deal.log("carrier_pigeon")

        assert refused.value.extensions == {"field": "kind"}
        assert deal.opp.version == 1

    def test_an_unknown_artifact_kind_is_refused(self) -> None:
        deal = new_deal()

        with pytest.raises(UnknownKindError, match="horoscope") as refused:
            deal.submit("horoscope", {"sign": "leo"})

        assert refused.value.extensions == {"field": "kind"}
        assert deal.opp.artifacts == []

    def test_an_unknown_stakeholder_role_is_refused(self) -> None:
        deal = new_deal()

        with pytest.raises(UnknownKindError, match="gatekeeper") as refused:
            deal.map("gatekeeper")

        assert refused.value.extensions == {"field": "role"}
        assert deal.opp.stakeholders == {}

    def test_an_artifact_with_a_bad_field_records_nothing(self) -> None:
        deal = deal_in("initial_contact")
        before = list(deal.events)

        with pytest.raises(ValidationFailedError):
            deal.submit("requirement_checklist", {"business_goals": ["x"], "scope": 42})

        assert deal.events == before


class TestBusinessTime:
    def test_no_given_time_means_now(self) -> None:
        assert business_time(None, T0) == T0

    def test_imported_history_keeps_its_past_time(self) -> None:
        past = T0 - timedelta(days=400)

        assert business_time(past, T0) == past

    def test_a_small_clock_skew_into_the_future_is_tolerated(self) -> None:
        assert business_time(T0 + MAX_FUTURE_SKEW, T0) == T0 + MAX_FUTURE_SKEW

    def test_a_time_in_the_future_is_refused(self) -> None:
        with pytest.raises(ValidationFailedError, match="future") as refused:
            business_time(T0 + MAX_FUTURE_SKEW + timedelta(seconds=1), T0)

        assert refused.value.extensions == {"field": "occurred_at"}

    def test_a_naive_time_is_refused(self) -> None:
        with pytest.raises(ValidationFailedError, match="time zone") as refused:
            business_time(datetime(2025, 3, 1, 9, 0), T0)  # naive on purpose

        assert refused.value.extensions == {"field": "occurred_at"}

    def test_a_future_activity_is_refused_and_records_nothing(self) -> None:
        deal = new_deal()

        with pytest.raises(ValidationFailedError):
            deal.log("call", occurred_at=T0 + timedelta(days=1))

        assert deal.opp.version == 1

    def test_an_activity_dated_in_another_time_zone_keeps_its_instant(self) -> None:
        deal = new_deal(now=T0 - timedelta(hours=1))
        deal.later(days=1)

        deal.log("call", occurred_at=T0.astimezone(ZoneInfo("Asia/Shanghai")))

        assert deal.opp.last_customer_activity_at == T0


class TestOpening:
    def test_opening_refuses_a_negative_amount(self) -> None:
        cmd = _open_command(Decimal("-0.01"))

        with pytest.raises(ValidationFailedError) as refused:
            open_opportunity(cmd, PLAYBOOK_VERSION, T0)

        assert refused.value.extensions == {"field": "amount"}

    def test_opening_accepts_a_zero_amount(self) -> None:
        event = open_opportunity(_open_command(Decimal(0)), PLAYBOOK_VERSION, T0)

        assert isinstance(event, ev.OpportunityOpened)
        assert (event.amount, event.stage, event.playbook_version) == (Decimal(0), "lead", 1)

    def test_opening_with_a_past_business_time_dates_the_lead(self) -> None:
        cmd = _open_command(Decimal(100), occurred_at=T0 - timedelta(days=90))

        event = open_opportunity(cmd, PLAYBOOK_VERSION, T0)

        assert event.occurred_at == T0 - timedelta(days=90)

    def test_opening_refuses_a_naive_business_time(self) -> None:
        cmd = _open_command(Decimal(100), occurred_at=datetime(2025, 1, 1))

        with pytest.raises(ValidationFailedError):
            open_opportunity(cmd, PLAYBOOK_VERSION, T0)


def _open_command(amount: Decimal, occurred_at: datetime | None = None) -> c.OpenOpportunity:
    return c.OpenOpportunity(
        opportunity_id="opp-open",
        account_id="acc-1",
        title="Line retrofit",
        owner_id=REP.sub,
        region=REP.region,
        team=REP.team,
        amount=amount,
        currency="CNY",
        expected_close_date=T0.date(),
        occurred_at=occurred_at,
    )
