"""The three seed rules on real servers: each fires once, at its due time, to the right person,
and resolves when its condition clears."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from shared.contracts import scoring as sc
from tests.integration.alert.conftest import Api
from tests.support import eventually

FOLLOW_UP, STALL, GOLDEN = "follow-up-gap", "stage-stall", "golden-72-hours"


def health_of(rep: str, now: datetime) -> sc.HealthScoreComputed:
    """The rep's last closed week as scoring publishes it."""
    return sc.HealthScoreComputed(
        occurred_at=now,
        scope="rep",
        scope_id=rep,
        week="2026-W47",
        score=61.5,
        components=[
            sc.ComponentScore(key="revisit_frequency", weight=0.4, value=0.5, subjects=2),
            sc.ComponentScore(key="key_person_coverage", weight=0.6, value=1.0, subjects=2),
        ],
        model_version=1,
        revision=1,
        week_ends_at=now - timedelta(days=3),
    )


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_the_seed_rules_exist_as_events_from_the_first_start(api: Api) -> None:
    rules = await api.ok("GET", "/rules", api.as_("rep-1", "rep", "east"))
    assert {r["rule_id"] for r in rules} >= {FOLLOW_UP, STALL, GOLDEN}
    assert await api.stream(f"rule-{FOLLOW_UP}") == ["RuleDefined"]
    assert await api.svc.seed() == []  # a restart seeds nothing twice


async def test_follow_up_gap_fires_at_its_due_time_to_the_owners_supervisor(api: Api) -> None:
    org = await api.org()
    deal = org.deal()
    opened_at = api.clock.now() - timedelta(days=6)
    await api.publish("pipeline", deal.opened(opened_at))
    await api.wait_consumed(deal.ids["opportunity_id"], 1)
    opp = deal.ids["opportunity_id"]
    await asyncio.sleep(0.5)  # the scheduler polls every 0.1 s: nothing is due yet
    assert await api.alerts(opp, FOLLOW_UP) == []

    api.clock.advance(timedelta(days=1, hours=1))
    alert = await api.wait_alert(opp, FOLLOW_UP)
    assert at(alert["due_at"]) == opened_at + timedelta(days=7)
    assert at(alert["raised_at"]) == api.clock.now()
    assert alert["recipients"] == [org.sup]
    assert alert["message"] == "supervisor intervention"
    assert alert["region"] == org.region
    assert alert["links"]["subject"] == f"/opportunities/{opp}"

    # the supervisor sees it; it fires once however long the scheduler keeps running
    mine = await api.ok("GET", "/alerts", api.as_(org.sup, "supervisor", org.region, org.team))
    assert [a["alert_id"] for a in mine["items"] if a["rule_id"] == FOLLOW_UP] == [
        alert["alert_id"]
    ]
    await asyncio.sleep(0.5)
    assert len(await api.alerts(opp, FOLLOW_UP)) == 1

    await api.publish("pipeline", deal.activity(api.clock.now(), kind="visit"))
    done = await api.wait_alert(opp, FOLLOW_UP, "resolved")
    assert done["resolution_reason"] == "customer contact logged"
    assert await api.stream(f"alert-{alert['alert_id']}") == ["AlertRaised", "AlertResolved"]


async def test_a_contact_logged_late_resolves_the_alert_and_keeps_its_history(api: Api) -> None:
    org = await api.org()
    deal = org.deal()
    opened_at = api.clock.now() - timedelta(days=13)
    await api.publish("pipeline", deal.opened(opened_at))
    alert = await api.wait_alert(deal.ids["opportunity_id"], FOLLOW_UP)
    assert at(alert["due_at"]) == opened_at + timedelta(days=7)

    # a call on day 5 (business time) reaches us only now, after the alert fired
    await api.publish("pipeline", deal.activity(opened_at + timedelta(days=5)))
    done = await api.wait_alert(deal.ids["opportunity_id"], FOLLOW_UP, "resolved")
    assert done["alert_id"] == alert["alert_id"]
    assert done["resolution_reason"] == "contact logged late"
    assert done["raised_at"] == alert["raised_at"]
    # the timer runs again from the late call: due on day 12, a day ago, so it fires again
    again = await api.wait_alert(deal.ids["opportunity_id"], FOLLOW_UP)
    assert at(again["due_at"]) == opened_at + timedelta(days=12)


async def test_golden_72_hours_goes_to_owner_and_supervisor_and_an_interview_resolves(
    api: Api,
) -> None:
    org = await api.org()
    deal = org.deal()
    opened_at = api.clock.now() - timedelta(hours=80)
    await api.publish("pipeline", deal.opened(opened_at))
    alert = await api.wait_alert(deal.ids["opportunity_id"], GOLDEN)
    assert alert["recipients"] == [org.rep, org.sup]
    assert at(alert["due_at"]) == opened_at + timedelta(hours=72)

    await api.publish("pipeline", deal.activity(api.clock.now(), kind="interview"))
    done = await api.wait_alert(deal.ids["opportunity_id"], GOLDEN, "resolved")
    assert done["resolution_reason"] == "interview held"


async def test_an_interview_in_time_cancels_golden_72_hours(api: Api) -> None:
    org = await api.org()
    deal = org.deal()
    opened_at = api.clock.now() - timedelta(hours=40)
    await api.publish(
        "pipeline",
        deal.opened(opened_at),
        deal.activity(opened_at + timedelta(hours=30), kind="interview"),
    )
    opp = deal.ids["opportunity_id"]
    await api.wait_consumed(opp, 2)
    state = await api.scalar(
        "SELECT state FROM alert_deadlines WHERE rule_id = :r AND opportunity_id = :o",
        r=GOLDEN,
        o=opp,
    )
    assert state == "cancelled"
    assert await api.alerts(opp, GOLDEN) == []


async def test_stage_stall_sends_a_risk_report_to_the_regional_manager(api: Api) -> None:
    org = await api.org()
    deal = org.deal()
    now = api.clock.now()
    await api.publish("scoring", health_of(org.rep, now))
    await eventually(
        lambda: api.scalar("SELECT score FROM alert_health WHERE member_id = :m", m=org.rep),
        timeout_s=60,
    )
    await api.publish(
        "pipeline",
        deal.opened(now - timedelta(days=40)),
        deal.activity(now - timedelta(days=30), objections_raised=["price"]),
        deal.advanced(now - timedelta(days=20), "initial_contact"),
    )
    opp = deal.ids["opportunity_id"]
    alert = await api.wait_alert(opp, STALL)
    assert alert["recipients"] == [org.rm]
    assert at(alert["due_at"]) == now - timedelta(days=6)
    assert alert["action"] == "risk_report" and alert["report_id"]

    rm = api.as_(org.rm, "regional_manager", org.region, org.team)
    report = await api.ok("GET", f"/reports/{alert['report_id']}", rm)
    content = report["content"]
    assert [s["stage"] for s in content["stage_history"]] == ["lead", "initial_contact"]
    assert content["stage_history"][0]["days"] == 20.0
    assert content["objections"][0]["objection"] == "price"
    assert any(r["closes_gap"] == "open objection: price" for r in content["recommendations"])
    assert content["health"] == {
        "score": 61.5,
        "revisit_frequency": 0.5,
        "key_person_coverage": 1.0,
    }
    md = await api.client.get(
        f"/reports/{alert['report_id']}", headers={**rm, "Accept": "text/markdown"}
    )
    assert md.headers["content-type"].startswith("text/markdown")
    assert "## Stage history" in md.text and "price" in md.text
    page_html = await api.client.get(
        f"/reports/{alert['report_id']}", headers={**rm, "Accept": "text/html"}
    )
    assert page_html.headers["content-type"].startswith("text/html")
    assert "<h2>Stage history</h2>" in page_html.text
    stranger = api.as_("rm-z", "regional_manager", "elsewhere")
    assert (
        await api.client.get(f"/reports/{alert['report_id']}", headers=stranger)
    ).status_code == 404
    page = await api.ok("GET", "/reports", rm, params={"opportunity_id": opp})
    assert [r["report_id"] for r in page["items"]] == [alert["report_id"]]
    bench = await api.ok("GET", "/workbench", rm)
    assert alert["alert_id"] in [i["alert_id"] for i in bench["items"]]
    assert {"rule_id": STALL, "rule_name": "stage stall", "open": 1} in bench["counts"]

    await api.publish("pipeline", deal.advanced(api.clock.now(), "needs_confirmed"))
    done = await api.wait_alert(opp, STALL, "resolved")
    assert done["resolution_reason"] == "stage advanced"


async def test_won_resolves_the_open_alerts_of_the_deal(api: Api) -> None:
    org = await api.org()
    deal = org.deal()
    await api.publish("pipeline", deal.opened(api.clock.now() - timedelta(days=8)))
    opp = deal.ids["opportunity_id"]
    await api.wait_alert(opp, FOLLOW_UP)
    await api.wait_alert(opp, GOLDEN)
    await api.publish("pipeline", deal.won(api.clock.now()))
    for rule in (FOLLOW_UP, GOLDEN):
        done = await api.wait_alert(opp, rule, "resolved")
        assert done["resolution_reason"] == "opportunity won"
