"""Scores and KPIs over REST from events consumed off the broker, equal to hand-worked figures.

The tests of this module run in order on one app: the clock moves forward between them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from services.scoring_svc.bootstrap import create_app
from shared.clock import FixedClock
from shared.contracts.scoring import HealthScoreComputed
from shared.events.base import DomainEvent
from tests.integration.scoring.conftest import ADMIN, START, Api, who
from tests.support import eventually, header, read_topic
from tests.unit.scoring.builders import Deal, account, at, member, team_week_47

HEALTH_TYPE = HealthScoreComputed.type_name()
NORTH_RM = who("rm-north", "regional_manager", "north", "north-1")


def north_october() -> list[DomainEvent]:
    ev: list[DomainEvent] = [
        member(at(1, 0, month=8), "rep-n1", "north", "north-1"),
        account(at(1, 0, month=8), "acct-n", "north"),
    ]
    kw = {"owner": "rep-n1", "region": "north", "team": "north-1", "account": "acct-n"}
    Deal(ev, at(1, 10, month=9), **kw).won(at(11, 22, month=10))  # type: ignore[arg-type]
    n2 = Deal(ev, at(1, 10, month=10), **kw)  # type: ignore[arg-type]
    n2.activity(at(3, 22, month=10)).won(at(6, 10, month=10))
    Deal(ev, at(2, 10, month=10), **kw).lost(at(20, 10, month=10))  # type: ignore[arg-type]
    return ev


async def test_open_week_scores_are_provisional_and_equal_the_hand_worked_ones(api: Api) -> None:
    events = team_week_47() + north_october()
    await api.publish(events)
    await api.wait_facts(len(events))
    rep = await api.get("/health/reps/rep-a", week="2026-W47")
    # 100 × (0.20×0.75 + 0.30×0.85 + 0.25×(2/3+1)/2 + 0.25×0) = 61.33 → 61.3
    assert (rep["score"], rep["provisional"], rep["published"]) == (61.3, True, False)
    assert [c["key"] for c in rep["components"]] == [
        "revisit_frequency",
        "requirement_completeness",
        "key_person_coverage",
        "competitive_response_plan",
    ]
    assert rep["raise_most"][0]["component"] == "competitive_response_plan"
    team = await api.get("/health/teams/east-1", week="2026-W47")
    assert team["score"] == 30.65  # (61.3 + 0.0) / 2, rep-c has no score
    region = await api.get("/health/regions/east", week="2026-W47")
    assert region["score"] == 65.33  # (30.65 + 100.00) / 2 = 65.325
    ranked = await api.get("/health", week="2026-W47", region="east")
    assert [(i["rep_id"], i["score"]) for i in ranked["items"]] == [
        ("rep-b", 0.0),
        ("rep-a", 61.3),
        ("rep-d", 100.0),
        ("rep-c", None),
    ]
    assert ranked["score"] == 65.33


async def test_reps_see_their_own_supervisors_their_team_managers_their_region(api: Api) -> None:
    url = "/health/reps/rep-a"
    await api.get(url, who("rep-a", "rep", "east", "east-1"), week="2026-W47")
    await api.get(url, who("rep-b", "rep", "east", "east-1"), 403, week="2026-W47")
    await api.get(url, who("sup-1", "supervisor", "east", "east-1"), week="2026-W47")
    await api.get(url, who("sup-2", "supervisor", "east", "east-2"), 403, week="2026-W47")
    await api.get(url, who("rm-s", "regional_manager", "south", "south-1"), 403, week="2026-W47")
    await api.get("/health/regions/east", who("rm-e", "regional_manager", "east", "e"))
    await api.get("/health/teams/east-1", who("rep-a", "rep", "east", "east-1"), 403)
    rm_east = who("rm-e", "regional_manager", "east", "e")
    team = await api.get("/health", rm_east, week="2026-W47", team="east-1")
    assert [i["rep_id"] for i in team["items"]] == ["rep-b", "rep-a", "rep-c"]
    await api.get("/health", who("rm-s", "regional_manager", "south", "s"), 403, team="east-1")
    await api.get(f"{url}/trend", who("sup-1", "supervisor", "east", "east-1"))
    await api.get(f"{url}/trend", who("sup-2", "supervisor", "east", "east-2"), 403)
    listed = await api.get("/health", who("rep-a", "rep", "east", "east-1"), week="2026-W47")
    assert [i["rep_id"] for i in listed["items"]] == ["rep-a"]
    r = await api.client.get(url)
    assert r.status_code == 401


async def test_kpis_over_rest_equal_the_hand_worked_figures(api: Api) -> None:
    body = await api.get(
        "/kpis", NORTH_RM, **{"from": "2026-10-01", "to": "2026-11-01", "granularity": "month"}
    )
    assert body["scope"] == {"region": "north", "team": None, "rep": None}
    [october] = body["periods"]
    assert october["period"] == "2026-10"
    # won: Sep 1 10:00 → Oct 11 22:00 = 40.5 d and Oct 1 10:00 → Oct 6 10:00 = 5 d
    assert october["deal_cycle_days"] == {"mean": 22.8, "median": 22.8, "count": 2}  # 22.75
    assert october["win_rate"] == {"rate": 0.6667, "won": 2, "lost": 1, "count": 3}
    # opened in October: one answered after 2.5 d, one never answered
    assert october["lead_response_days"] == {
        "mean": 2.5,
        "median": 2.5,
        "count": 1,
        "no_response_yet": 1,
    }
    await api.get(
        "/kpis", NORTH_RM, 403, region="east", **{"from": "2026-10-01", "to": "2026-11-01"}
    )


async def test_bad_input_is_refused_with_the_field_and_changes_nothing(api: Api) -> None:
    bad = await api.get("/health/reps/rep-a", status=422, week="2026-W60")
    assert "week" in str(bad)
    await api.get("/kpis", status=422, **{"from": "2026-11-01", "to": "2026-10-01"})
    weights = {
        "revisit_frequency": 0.5,
        "requirement_completeness": 0.3,
        "key_person_coverage": 0.1,
        "competitive_response_plan": 0.0,
    }
    model = {"weights": weights, "revisit_target": 2, "completeness_target": 0.9, "roles_target": 3}
    r = await api.client.put("/scoring-model", json=model, headers=ADMIN)
    assert r.status_code == 422, r.text
    assert r.json().get("field") == "weights"
    r = await api.client.put("/scoring-model", json={**model, "roles_target": 0}, headers=ADMIN)
    assert r.status_code == 422, r.text
    r = await api.client.put(
        "/scoring-model", json=model, headers=who("rep-a", "rep", "east", "east-1")
    )
    assert r.status_code == 403, r.text
    assert (await api.get("/scoring-model"))["version"] == 0


async def test_a_closed_week_is_published_and_a_model_change_rescores_only_when_asked(
    api: Api,
) -> None:
    api.clock.advance(timedelta(days=3, hours=22))  # Tuesday of W48

    async def published() -> bool:
        body = await api.get("/health/reps/rep-a", week="2026-W47")
        return bool(body["published"])

    await eventually(published, timeout_s=30)
    rep = await api.get("/health/reps/rep-a", week="2026-W47")
    assert (rep["score"], rep["provisional"], rep["revision"]) == (61.3, False, 1)
    weights = {
        "revisit_frequency": 0.5,
        "requirement_completeness": 0.5,
        "key_person_coverage": 0.0,
        "competitive_response_plan": 0.0,
    }
    model = {"weights": weights, "revisit_target": 2, "completeness_target": 0.9, "roles_target": 3}
    r = await api.client.put("/scoring-model", json=model, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    assert (await api.get("/health/reps/rep-a", week="2026-W47"))["score"] == 61.3
    r = await api.client.post(
        "/health/recompute", json={"from_week": "2026-W47", "to_week": "2026-W47"}, headers=ADMIN
    )
    assert r.status_code == 200, r.text
    assert r.json()["weeks"] == [{"week": "2026-W47", "revision": 2}]
    rep = await api.get("/health/reps/rep-a", week="2026-W47")
    # 100 × (0.5×0.75 + 0.5×0.85) = 80.0
    assert (rep["score"], rep["revision"], rep["model_version"]) == (80.0, 2, 1)
    async with api.app.state.scoring.engine.connect() as conn:
        kept = await conn.execute(
            text(
                "SELECT revision, score FROM health_scores WHERE scope = 'rep'"
                " AND scope_id = 'rep-a' AND week = '2026-W47' ORDER BY revision"
            )
        )
        assert [tuple(r) for r in kept] == [(1, 61.3), (2, 80.0)]
        published_events = await conn.execute(
            text(
                "SELECT count(*) FROM events WHERE event_name = 'HealthScoreComputed'"
                " AND payload->>'scope_id' = 'rep-a'"
            )
        )
        assert published_events.scalar() == 2

    def rep_a_revisions(records: list[Any]) -> set[int]:
        found = set()
        for r in records:
            body = json.loads(r.value)
            if header(r, "ce_type") == HEALTH_TYPE and body["scope_id"] == "rep-a":
                found.add(body["revision"])
        return found

    records = await read_topic(
        api.settings.kafka_bootstrap_servers or "",
        api.settings.topic("scoring"),
        lambda rs: rep_a_revisions(rs) == {1, 2},
    )
    assert rep_a_revisions(records) == {1, 2}  # both revisions reached scoring.events


async def test_scores_and_kpis_are_identical_after_a_restart(api: Api) -> None:
    before = await api.get("/health/teams/east-1", week="2026-W47")
    kpis_before = await api.get("/kpis", NORTH_RM, **{"from": "2026-10-01", "to": "2026-11-01"})
    app = create_app(api.settings, FixedClock(api.clock.now()))
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
            again = Api(client, app, FixedClock(START), api.settings)
            assert await again.get("/health/teams/east-1", week="2026-W47") == before
            rep = await again.get("/health/reps/rep-a", week="2026-W47")
            assert rep["score"] == 80.0
            kpis = await again.get("/kpis", NORTH_RM, **{"from": "2026-10-01", "to": "2026-11-01"})
            assert kpis["periods"] == kpis_before["periods"]


async def test_funnel_over_rest_counts_the_death_in_the_lead_stage(api: Api) -> None:
    body = await api.get("/funnel", NORTH_RM, **{"from": "2026-10-01", "to": "2026-11-01"})
    lead = body["transitions"][0]
    # opened in October: n2 (won straight from lead) and n3 (lost as a lead); n1 opened in September
    assert (lead["stage"], lead["entered"], lead["advanced"], lead["died"]) == ("lead", 2, 0, 1)
    assert [n["stage"] for n in body["death_nodes"]] == ["lead"]


async def test_more_bad_input_gets_problems_never_a_server_error(api: Api) -> None:
    cases: list[tuple[str, dict[str, str], int]] = [
        ("/health/reps/nobody-known", {"week": "2026-W47"}, 404),
        ("/health/reps/rep-a", {"week": "9999-W52"}, 422),
        ("/health/reps/rep-a/trend", {"weeks": "0"}, 422),
        ("/kpis", {"from": "2026-10-01", "to": "2026-11-01", "granularity": "day"}, 422),
        ("/kpis", {"from": "0001-01-01", "to": "9999-12-31"}, 422),
        ("/funnel", {"from": "2026-11-01", "to": "2026-10-01"}, 422),
        ("/forecast", {"quarter": "2027-Q5"}, 422),
        ("/forecast", {"quarter": "9999-Q4"}, 422),
        ("/forecast/backtest", {"from": "2026-Q4", "to": "2026-Q1"}, 422),
    ]
    for url, params, status in cases:
        r = await api.client.get(url, params=params, headers=ADMIN)
        assert r.status_code == status, (url, params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    trend = await api.get("/health/reps/rep-a/trend", weeks="3")
    assert [p["week"] for p in trend["weeks"]] == ["2026-W46", "2026-W47", "2026-W48"]
    assert (trend["week"], trend["provisional"]) == ("2026-W48", True)
    assert trend["weeks"][1]["score"] == 80.0  # W47 as recomputed
    r = await api.client.post(
        "/health/recompute", json={"from_week": "2026-W47", "to_week": "2026-W49"}, headers=ADMIN
    )
    assert r.status_code == 422, r.text  # W49 has not closed
    assert r.json()["field"] == "to_week"
