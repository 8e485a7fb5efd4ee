"""KPI arithmetic on small histories; expected numbers worked by hand from DESIGN.md."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.scoring_svc.domain import calendar
from services.scoring_svc.domain import kpis as k
from services.scoring_svc.domain.kpis import Scope
from services.scoring_svc.domain.ledger import Ledger
from shared.contracts import collab as cv
from shared.events.base import DomainEvent
from tests.unit.scoring.builders import TZ, Deal, account, at, member

NOV = calendar.periods(date(2026, 11, 1), date(2026, 12, 1), "month", TZ)[0]
NOW = at(30, 12)
EAST = Scope(region="east")


def _directory() -> list[DomainEvent]:
    return [
        member(at(1, 0, month=9), "rep-a", "east", "east-1"),
        member(at(15, 0), "rep-a", "east", "east-2"),  # moves team mid-November
        member(at(1, 0, month=9), "rep-s", "south", "south-1"),
        account(at(1, 0, month=9), "acct-1", "east"),
    ]


def test_periods_are_clipped_to_the_range_and_labelled_in_the_org_zone() -> None:
    weeks = calendar.periods(date(2026, 11, 18), date(2026, 11, 30), "week", TZ)
    assert [(p.label, p.start.day, p.end.day) for p in weeks] == [
        ("2026-W47", 18, 23),
        ("2026-W48", 23, 30),
    ]
    months = calendar.periods(date(2026, 11, 1), date(2027, 1, 1), "month", TZ)
    assert [p.label for p in months] == ["2026-11", "2026-12"]
    quarters = calendar.periods(date(2026, 2, 1), date(2026, 7, 1), "quarter", TZ)
    assert [p.label for p in quarters] == ["2026-Q1", "2026-Q2"]
    assert NOV.start == datetime(2026, 10, 31, 16, tzinfo=UTC)  # midnight in Shanghai


def test_lead_response_averages_the_answered_and_counts_the_waiting_apart() -> None:
    ev = _directory()
    Deal(ev, at(2, 10)).activity(at(2, 12), customer_facing=False).activity(at(3, 22))
    Deal(ev, at(5, 10)).activity(at(5, 12), region="south", actor="rep-s").activity(at(8, 10))
    Deal(ev, at(10, 10))  # no answer yet
    Deal(ev, at(30, 10, month=10)).activity(at(2))  # opened in October
    Deal(ev, at(12, 10), owner="rep-s", region="south").activity(at(12, 11), region="south")
    got = k.lead_response(Ledger.build(ev), EAST, NOV, NOW)
    # 36 h = 1.5 d and 72 h = 3.0 d: mean 2.25 → 2.3, median 2.25 → 2.3
    assert got == {"mean": 2.3, "median": 2.3, "count": 2, "no_response_yet": 1}


def test_completeness_rate_counts_documents_at_or_above_90_percent_when_leaving_the_stage() -> None:
    ev = _directory()
    c1 = Deal(ev, at(1, 9)).advance(at(1, 10), "needs_confirmed")
    c1.artifact(at(2), "needs_interview_notes", 0.95).artifact(at(3), "decision_chain_map", 0.90)
    c1.artifact(at(4), "pain_point_ranking", 0.92).advance(at(10), "solution_demo")
    c2 = Deal(ev, at(1, 9)).advance(at(1, 10), "needs_confirmed")
    c2.artifact(at(2), "needs_interview_notes", 0.95).artifact(at(3), "decision_chain_map", 0.85)
    c2.artifact(at(4), "pain_point_ranking", 0.99).advance(at(10), "solution_demo")
    c2.artifact(at(11), "decision_chain_map", 0.91)  # too late
    c3 = Deal(ev, at(1, 9, month=10)).advance(at(2, month=10), "needs_confirmed")
    c3.advance(at(20, month=10), "solution_demo")  # left in October
    c4 = Deal(ev, at(1, 9)).advance(at(1, 10), "needs_confirmed")
    c4.artifact(at(2), "needs_interview_notes", 0.95).artifact(at(3), "decision_chain_map", 0.95)
    c4.advance(at(12), "solution_demo")  # no pain-point ranking
    got = k.requirement_completeness(Ledger.build(ev), EAST, NOV, NOW)
    # 1 complete of 3 that left needs_confirmed in November: 0.3333
    assert got == {"rate": 0.3333, "complete": 1, "count": 3}


def _closed_deals() -> list[DomainEvent]:
    ev = _directory()
    Deal(ev, at(1, 10, month=10)).won(at(20, 10))  # Oct 1 → Nov 20: 50 days, rep-a in east-2
    Deal(ev, at(1, 10)).won(at(11, 22))  # 10.5 days, rep-a still in east-1
    Deal(ev, at(3, 10)).lost(at(25, 10))
    Deal(ev, at(3, 10)).won(at(2, 10, month=12))  # won in December
    return ev


def test_deal_cycle_counts_for_the_team_the_owner_was_in_when_the_deal_was_won() -> None:
    ledger = Ledger.build(_closed_deals())
    assert k.deal_cycle(ledger, Scope(team="east-2"), NOV, NOW) == {
        "mean": 50.0,
        "median": 50.0,
        "count": 1,
    }
    assert k.deal_cycle(ledger, Scope(team="east-1"), NOV, NOW) == {
        "mean": 10.5,
        "median": 10.5,
        "count": 1,
    }
    # (50 + 10.5) / 2 = 30.25 → 30.3
    assert k.deal_cycle(ledger, EAST, NOV, NOW) == {"mean": 30.3, "median": 30.3, "count": 2}


def test_win_rate_is_won_over_won_plus_lost_among_deals_closed_in_the_period() -> None:
    got = k.win_rate(Ledger.build(_closed_deals()), Scope(rep="rep-a"), NOV, NOW)
    # 2 won, 1 lost in November: 2/3
    assert got == {"rate": 0.6667, "won": 2, "lost": 1, "count": 3}


def _stage_walks() -> list[DomainEvent]:
    ev = _directory()
    d1 = Deal(ev, at(1, 0)).advance(at(4, 12), "initial_contact")  # lead 3.5 d
    d1.advance(at(10, 12), "needs_confirmed")  # initial_contact 6 d
    d2 = Deal(ev, at(25, 0, month=10)).advance(at(2, 0), "initial_contact")  # lead 8 d
    d2.lost(at(12, 0))  # initial_contact 10 d
    Deal(ev, at(5, 0))  # still a lead
    d5 = Deal(ev, at(1, 10, month=10)).advance(at(15, 10), "closing")  # lead 45 d
    d5.won(at(25, 10))  # closing 10 d
    return ev


def test_stage_dwell_is_the_median_of_stays_that_ended_in_the_period() -> None:
    got = k.stage_dwell(Ledger.build(_stage_walks()), EAST, NOV, NOW)
    # lead: 3.5, 8, 45 → 8.0; initial_contact: 6, 10 → 8.0; closing: 10 (ended by the win)
    assert got["lead"] == {"median_days": 8.0, "count": 3}
    assert got["initial_contact"] == {"median_days": 8.0, "count": 2}
    assert got["needs_confirmed"] == {"median_days": None, "count": 0}
    assert got["closing"] == {"median_days": 10.0, "count": 1}


def test_stage_conversion_is_the_share_of_entrants_that_reached_the_next_stage() -> None:
    got = k.stage_conversion(Ledger.build(_stage_walks()), EAST, NOV, NOW)
    # lead entered in November by d1 and the waiting lead; d1 went on: 1/2
    assert got["lead"] == {"next": "initial_contact", "rate": 0.5, "converted": 1, "count": 2}
    # initial_contact entered by d1 (went on) and d2 (lost): 1/2
    assert got["initial_contact"]["rate"] == 0.5
    assert got["needs_confirmed"] == {
        "next": "solution_demo",
        "rate": 0.0,
        "converted": 0,
        "count": 1,
    }
    # after the last stage, "next" is won: d5 entered closing and won
    assert got["closing"] == {"next": "won", "rate": 1.0, "converted": 1, "count": 1}


def _conflict(contact_at: datetime, n: int) -> DomainEvent:
    return cv.CrossRegionConflictDetected(
        occurred_at=contact_at,
        conflict_id=f"c-{n}",
        account_id="acct-1",
        owning_region="east",
        contact_region="south",
        actor_id="rep-s",
        opportunity_id="opp-x",
        activity_id=f"act-{n}",
        activity_kind="call",
        source="manual",
        contact_at=contact_at,
    )


def test_conflicts_count_in_the_month_of_the_contact_in_the_org_zone() -> None:
    ev = _directory()
    ev.append(_conflict(at(5), 1))
    ev.append(_conflict(datetime(2026, 10, 31, 16, 30, tzinfo=UTC), 2))  # Nov 1 00:30 Shanghai
    ev.append(_conflict(datetime(2026, 10, 31, 15, 30, tzinfo=UTC), 3))  # Oct 31 23:30 Shanghai
    ledger = Ledger.build(ev)
    assert k.conflicts(ledger, Scope(region="south"), NOV, NOW) == {
        "count": 2,
        "as_owning_region": 0,
    }
    assert k.conflicts(ledger, EAST, NOV, NOW) == {"count": 0, "as_owning_region": 2}
    assert k.conflicts(ledger, Scope(team="south-1"), NOV, NOW)["count"] == 2
    assert k.conflicts(ledger, Scope(rep="rep-a"), NOV, NOW)["count"] == 0
