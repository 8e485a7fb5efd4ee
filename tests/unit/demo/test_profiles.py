"""Before vs after: the behaviour the profiles describe shows in the plan, and a full plan
lands near the case study's KPIs (read from the plan by the KPI definitions)."""

from __future__ import annotations

from statistics import mean

from shared.demo.kpis import plan_kpis
from shared.demo.plan import Plan


def _rates(plan: Plan, kind: str) -> list[int]:
    """Fields filled in each submission of an artifact kind."""
    return [
        len(c.body["fields"])
        for c in plan.commands
        if c.path.endswith("/artifacts") and c.body["kind"] == kind
    ]


def test_after_answers_leads_faster(full_plans: dict[str, Plan]) -> None:
    def delay(plan: Plan) -> float:
        return mean(
            (d.first_response_at - d.opened_at).total_seconds() / 86400
            for d in plan.deals
            if d.first_response_at
        )

    assert delay(full_plans["before"]) > 2 * delay(full_plans["after"])


def test_after_fills_its_documents_more_completely(full_plans: dict[str, Plan]) -> None:
    for kind in ("needs_interview_notes", "proposal", "requirement_checklist"):
        before, after = _rates(full_plans["before"], kind), _rates(full_plans["after"], kind)
        assert mean(after) > mean(before), kind


def test_fill_rates_vary_within_a_profile(full_plans: dict[str, Plan]) -> None:
    for plan in full_plans.values():
        assert len(set(_rates(plan, "needs_interview_notes"))) >= 2


def test_before_knocks_on_closed_gates_more_often(full_plans: dict[str, Plan]) -> None:
    def blocked_share(plan: Plan) -> float:
        events = plan.expected_events("pipeline")
        return events["StageAdvanceBlocked"] / len(plan.deals)

    assert blocked_share(full_plans["before"]) > 2 * blocked_share(full_plans["after"])


def test_after_asks_before_contacting_and_before_does_not(full_plans: dict[str, Plan]) -> None:
    def requests(plan: Plan) -> int:
        return plan.expected_events("collab")["ContactRequested"]

    before, after = full_plans["before"], full_plans["after"]
    assert requests(after) > 2 * requests(before)
    assert len(before.conflicts) > 5 * len(after.conflicts)


def test_a_full_before_plan_lands_near_the_case_study(full_plans: dict[str, Plan]) -> None:
    k = plan_kpis(full_plans["before"])
    assert k.lead_response_days is not None and abs(k.lead_response_days - 5.2) <= 0.4
    assert k.completeness is not None and abs(k.completeness - 0.43) <= 0.04
    assert abs(k.conflicts_per_month - 3.7) <= 0.4
    assert k.deal_cycle_days is not None and abs(k.deal_cycle_days - 142) <= 8


def test_a_full_after_plan_lands_near_the_case_study(full_plans: dict[str, Plan]) -> None:
    k = plan_kpis(full_plans["after"])
    assert k.lead_response_days is not None and abs(k.lead_response_days - 1.8) <= 0.3
    assert k.completeness is not None and abs(k.completeness - 0.89) <= 0.04
    assert abs(k.conflicts_per_month - 0.3) <= 0.2
    assert k.deal_cycle_days is not None and abs(k.deal_cycle_days - 98) <= 6
