"""The funnel per stage and the death nodes, worked by hand."""

from __future__ import annotations

from datetime import date

from services.scoring_svc.domain import calendar
from services.scoring_svc.domain.funnel import funnel
from services.scoring_svc.domain.kpis import Scope
from services.scoring_svc.domain.ledger import Ledger
from shared.events.base import DomainEvent
from tests.unit.scoring.builders import TZ, Deal, at

NOV = calendar.periods(date(2026, 11, 1), date(2026, 12, 1), "month", TZ)[0]
NOW = at(30, 12)


def _deals() -> list[DomainEvent]:
    ev: list[DomainEvent] = []
    f1 = Deal(ev, at(1, 0)).blocked(at(3, 0), "initial_contact", "fill:notes", "activity:interview")
    f1.blocked(at(5, 0), "initial_contact", "activity:interview").lost(at(6, 0))  # lead 5 d
    Deal(ev, at(2, 0)).advance(at(4, 0), "initial_contact")  # lead 2 d, then 26.5 d waiting
    Deal(ev, at(20, 0))  # a lead for 10.5 d: not stalled yet
    f4 = Deal(ev, at(3, 0)).blocked(at(4, 0), "initial_contact", "activity:interview", "roles:3")
    f4.lost(at(10, 0))  # lead 7 d
    f5 = Deal(ev, at(5, 0)).advance(at(6, 0), "initial_contact")  # lead 1 d
    f5.blocked(at(8, 0), "needs_confirmed", "artifact:requirement_checklist").lost(at(9, 0))
    return ev


def test_funnel_counts_entrants_and_what_became_of_them() -> None:
    ev = _deals()
    ids = [e.opportunity_id for e in ev if e.event_name == "OpportunityOpened"]  # type: ignore[attr-defined]
    f1, f2, _, f4, f5 = ids
    got = funnel(Ledger.build(ev), Scope(region="east"), NOV, NOW)
    lead, initial = got["transitions"][0], got["transitions"][1]
    # lead: 5 entered; f2, f5 advanced; f1, f4 lost; dwell 5, 2, 7, 1 → median (2 + 5) / 2 = 3.5
    assert {k: lead[k] for k in ("entered", "advanced", "stalled", "died")} == {
        "entered": 5,
        "advanced": 2,
        "stalled": 0,
        "died": 2,
    }
    assert lead["median_dwell_days"] == 3.5
    # last block before each death: f1 lacked the interview; f4 the interview and 3 roles
    assert lead["missing_at_death"] == [
        {"code": "activity:interview", "deals": 2},
        {"code": "roles:3", "deals": 1},
    ]
    assert lead["evidence"]["died"] == sorted([f1, f4])
    # initial_contact: f2 waiting 26.5 d > 14 (stalled), f5 lost after 3 d
    assert (initial["entered"], initial["stalled"], initial["died"]) == (2, 1, 1)
    assert initial["evidence"] == {"stalled": [f2], "died": [f5]}
    assert initial["median_dwell_days"] == 3.0
    assert [n["stage"] for n in got["death_nodes"]] == ["lead", "initial_contact"]
