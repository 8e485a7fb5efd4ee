"""Forecast arithmetic, the fallback when there is too little history, and no leak past T."""

from __future__ import annotations

from datetime import date, datetime

from services.scoring_svc.application.forecast import backtest, forecast_as_of
from services.scoring_svc.domain import calendar
from services.scoring_svc.domain.kpis import Scope
from services.scoring_svc.domain.ledger import Ledger
from services.scoring_svc.domain.model import ScoringModel
from shared.events.base import DomainEvent
from tests.unit.scoring.builders import TZ, Deal, at, q1_pipeline

Q1 = calendar.quarter("2027-Q1", TZ)
T = Q1.start  # 2027-01-01 00:00 Asia/Shanghai
ALL = Scope()


def test_stage_weighted_forecast_sums_amount_times_stage_probability_of_deals_open_at_t() -> None:
    ev, a, b = q1_pipeline()
    f = forecast_as_of(Ledger.build(ev), ScoringModel(), Q1, ALL, T, TZ)
    assert [d["opportunity_id"] for d in f["deals"]] == sorted([a.id, b.id])
    # 100,000 × 0.60 (negotiation) + 200,000 × 0.05 (lead) = 70,000
    # variance 100,000²×0.6×0.4 + 200,000²×0.05×0.95 = 4.3e9; σ = 65,574.39;
    # 1.645 σ = 107,869.86 → [max(0, 70,000 − 107,869.86), 70,000 + 107,869.86]
    assert f["stage_weighted"] == {
        "amount": 70000.0,
        "interval": {"low": 0.0, "high": 177869.86, "level": 0.9},
    }


def test_with_too_few_closed_deals_behaviour_falls_back_to_stage_weights_and_says_so() -> None:
    ev, _, _ = q1_pipeline()
    f = forecast_as_of(Ledger.build(ev), ScoringModel(), Q1, ALL, T, TZ)
    behaviour = f["behaviour_based"]
    assert behaviour["model"] == "stage weights (fallback)"
    assert "too few closed deals" in behaviour["note"]
    assert behaviour["amount"] == 70000.0


def test_backtest_uses_only_events_before_the_quarter_and_measures_the_error() -> None:
    ev, a, b = q1_pipeline()
    a.won(at(1, month=2, year=2027))
    now = datetime(2027, 4, 2, tzinfo=TZ)
    first = backtest(ev, ScoringModel(), [Q1], ALL, now, TZ)[0]
    # actual: deal a (100,000) won in Q1; error |70,000 − 100,000| / 100,000 = 0.3
    assert first["actual"] == 100000.0
    assert first["error"]["stage_weighted"] == 0.3
    assert first["status"] == "complete"
    b.advance(at(5, month=1, year=2027), "closing")  # after T: must not move the Q1 forecast
    b.role(at(6, month=1, year=2027), "decision_maker")
    again = backtest(ev, ScoringModel(), [Q1], ALL, now, TZ)[0]
    assert again["stage_weighted"] == first["stage_weighted"]
    assert again["deals"] == first["deals"]


def _history(n: int) -> list[DomainEvent]:
    """Closed deals of 2026-Q3, each seen at 2026-07-01: engaged ones won in the quarter."""
    ev: list[DomainEvent] = []
    for i in range(n):
        d = Deal(ev, at(1, month=6), close=date(2026, 8, 15))
        if i % 2 == 0:
            for role in ("decision_maker", "technical_evaluator", "finance"):
                d.role(at(3, month=6), role)
            d.activity(at(20, month=6)).activity(at(25, month=6)).activity(at(29, month=6))
            d.won(at(10, month=8))
        else:
            d.lost(at(10, month=8))
    return ev


def test_behaviour_model_learns_from_closed_deals_and_ranks_engaged_deals_higher() -> None:
    ev = _history(30)
    engaged = Deal(ev, at(1, month=12), close=date(2027, 2, 1))
    for role in ("decision_maker", "technical_evaluator", "finance"):
        engaged.role(at(2, month=12), role)
    engaged.activity(at(20, month=12)).activity(at(26, month=12)).activity(at(30, month=12))
    idle = Deal(ev, at(1, month=12), close=date(2027, 2, 1))
    f = forecast_as_of(Ledger.build(ev), ScoringModel(), Q1, ALL, T, TZ)
    assert f["behaviour_based"]["model"] == "calibrated logistic regression"
    assert f["behaviour_based"]["trained_on"] == 30
    p = {d["opportunity_id"]: d["p_behaviour"] for d in f["deals"]}
    assert 0.0 <= p[idle.id] < p[engaged.id] <= 1.0
