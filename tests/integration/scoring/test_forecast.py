"""Forecast, backtest and quarterly publication over REST from events consumed off the broker."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import text

from shared.contracts import pipeline as pv
from tests.integration.scoring.conftest import Api
from tests.support import eventually
from tests.unit.scoring.builders import TZ, Deal, at, q1_pipeline

APRIL_2 = datetime(2027, 4, 2, 9, tzinfo=TZ)


async def test_backtest_and_quarter_forecasts_equal_the_hand_worked_figures(api: Api) -> None:
    events, a, _ = q1_pipeline()
    a.won(at(1, month=2, year=2027))
    Deal(events, at(1, month=3, year=2027), amount=300_000, close=date(2027, 5, 10))
    await api.publish(events)
    await api.wait_facts(len(events))
    api.clock.advance(APRIL_2 - api.clock.now())
    body = await api.get("/forecast/backtest", **{"from": "2027-Q1", "to": "2027-Q1"})
    [q1] = body["quarters"]
    # as of 2027-01-01: 100,000 × 0.60 + 200,000 × 0.05 = 70,000; actual: a won 100,000
    assert q1["stage_weighted"]["amount"] == 70000.0
    assert q1["actual"] == 100000.0
    assert q1["error"]["stage_weighted"] == 0.3  # |70,000 − 100,000| / 100,000
    assert q1["behaviour_based"]["model"] == "stage weights (fallback)"
    now = await api.get("/forecast", quarter="2027-Q2")
    # open now with a close in Q2: 500,000 (2027-04-01) and 300,000 (2027-05-10), both leads
    assert now["stage_weighted"]["amount"] == 40000.0  # (500,000 + 300,000) × 0.05
    assert len(now["deals"]) == 2


async def test_a_late_event_after_the_as_of_time_leaves_the_backtest_unchanged(api: Api) -> None:
    before = await api.get("/forecast/backtest", **{"from": "2027-Q1", "to": "2027-Q1"})
    lead = next(d for d in before["quarters"][0]["deals"] if d["stage"] == "lead")
    late = pv.StageAdvanced(
        opportunity_id=lead["opportunity_id"],
        account_id="acct-1",
        occurred_at=at(5, month=1, year=2027),  # after 2027-01-01, arriving now
        from_stage="lead",
        to_stage="closing",
        playbook_version=1,
        days_in_previous_stage=35.0,
    )
    count = await api.facts()
    await api.publish([late])
    await api.wait_facts(count + 1)
    after = await api.get("/forecast/backtest", **{"from": "2027-Q1", "to": "2027-Q1"})
    assert after == before
    # the late advance is known: today's view of that deal has moved on
    today = await api.get("/forecast", quarter="2027-Q1")
    stages = {d["opportunity_id"]: d["stage"] for d in today["deals"]}
    assert stages[lead["opportunity_id"]] == "closing"


async def test_each_quarter_start_publishes_its_forecast(api: Api) -> None:
    async def published() -> list[str]:
        async with api.app.state.scoring.engine.connect() as conn:
            rows = await conn.execute(text("SELECT quarter FROM forecast_publications"))
            return sorted(r.quarter for r in rows)

    async def both() -> bool:
        return await published() == ["2027-Q1", "2027-Q2"]

    # the scheduler began watching in 2026-Q4; the clock then moved into 2027-Q2
    await eventually(both, timeout_s=60)
    async with api.app.state.scoring.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT payload FROM events WHERE event_name = 'ForecastPublished'"
                " AND stream_id = 'forecast-2027-Q1' ORDER BY version"
            )
        )
        payloads = [r.payload for r in rows]
    assert [(p["region"], float(p["stage_weighted"])) for p in payloads] == [
        (None, 70000.0),
        ("east", 70000.0),
    ]
