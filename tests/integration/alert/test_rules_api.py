"""Rules through the API: admins only, 422 naming the bad field, YAML, a runtime change that
re-plans open deadlines, simulation over the consumed history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.integration.alert.conftest import Api, Org, unique


def rule_body(region: str, after: str = "P10D", **extra: Any) -> dict[str, Any]:
    return {
        "rule_id": unique("quiet"),
        "name": "quiet deal",
        "message": "look at this deal",
        "start_on": [{"event": "OpportunityOpened"}],
        "cancel_on": [{"event": "OpportunityWon"}],
        "after": after,
        "when": {"region_in": [region]},
        "route_to": ["owner", "regional_manager"],
        "severity": "low",
        **extra,
    }


def problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()  # type: ignore[no-any-return]


async def test_only_admins_define_and_change_rules(api: Api) -> None:
    body = rule_body("east")
    for role in ("rep", "supervisor", "regional_manager", "partner"):
        r = await api.client.post("/rules", json=body, headers=api.as_("m", role, "east"))
        problem(r, 403)
    r = await api.client.post(
        "/rules/follow-up-gap/disable", headers=api.as_("rm", "regional_manager", "east")
    )
    problem(r, 403)
    assert (
        await api.scalar("SELECT count(*) FROM alert_rules WHERE rule_id = :r", r=body["rule_id"])
        == 0
    )


async def test_an_invalid_rule_is_refused_naming_the_path_and_changes_nothing(api: Api) -> None:
    before = await api.scalar("SELECT count(*) FROM events")
    body = rule_body("east", after="7 days")
    body["start_on"] = [{"event": "ActivityLogged", "where": {"kindd": ["interview"]}}]
    body["route_to"] = ["ceo"]
    found = problem(await api.client.post("/rules", json=body, headers=api.admin), 422)
    fields = {e["field"] for e in found["errors"]}
    assert {"after", "start_on.0.where", "route_to.0"} <= fields
    r = await api.client.post(
        "/rules", content=b"{not json", headers={**api.admin, "content-type": "application/json"}
    )
    assert problem(r, 422)["field"] == "body"
    assert await api.scalar("SELECT count(*) FROM events") == before


async def test_a_rule_may_be_written_in_yaml_and_read_back(api: Api) -> None:
    rule_id = unique("yaml")
    text = f"""
rule_id: {rule_id}
name: big deals in negotiation
message: escalate
start_on: [{{event: StageAdvanced, where: {{to_stage: negotiation}}}}]
cancel_on: [{{event: OpportunityWon}}, {{event: OpportunityLost}}]
after: P3D
when: {{amount_gte: 1000000}}
route_to: [regional_manager]
"""
    r = await api.client.post(
        "/rules", content=text.encode(), headers={**api.admin, "content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/rules/{rule_id}"
    got = await api.ok("GET", f"/rules/{rule_id}", api.as_("rep-1", "rep", "east"))
    assert got["definition"]["when"]["amount_gte"] == "1000000"
    schema = await api.ok("GET", "/rules/schema", api.admin)
    assert "start_on" in schema["properties"]


async def test_a_runtime_change_re_plans_open_deadlines(api: Api) -> None:
    org: Org = await api.org()
    body = rule_body(org.region)
    rule_id = body["rule_id"]
    await api.ok("POST", "/rules", api.admin, 201, json=body)
    deal = org.deal()
    opened_at = api.clock.now() - timedelta(days=5)
    await api.publish("pipeline", deal.opened(opened_at))
    opp = deal.ids["opportunity_id"]
    await api.wait_consumed(opp, 1)
    due = await api.scalar(
        "SELECT due_at FROM alert_deadlines WHERE rule_id = :r AND opportunity_id = :o",
        r=rule_id,
        o=opp,
    )
    assert due == opened_at + timedelta(days=10)

    body.pop("rule_id")
    changed = await api.ok("PUT", f"/rules/{rule_id}", api.admin, json={**body, "after": "P4D"})
    assert changed["version"] == 2
    alert = await api.wait_alert(opp, rule_id)
    assert datetime.fromisoformat(alert["due_at"]) == opened_at + timedelta(days=4)
    assert alert["recipients"] == [org.rep, org.rm]
    assert await api.stream(f"rule-{rule_id}") == ["RuleDefined", "RuleChanged"]

    # a second change with the same start does not fire the same timer again
    await api.ok("PUT", f"/rules/{rule_id}", api.admin, json={**body, "after": "P3D"})
    assert len(await api.alerts(opp, rule_id)) == 1


async def test_disabling_a_rule_stops_its_deadlines_and_enabling_plans_them_again(
    api: Api,
) -> None:
    org = await api.org()
    body = rule_body(org.region, after="P2D")
    rule_id = body["rule_id"]
    await api.ok("POST", "/rules", api.admin, 201, json=body)
    await api.ok("POST", f"/rules/{rule_id}/disable", api.admin)
    deal = org.deal()
    await api.publish("pipeline", deal.opened(api.clock.now() - timedelta(days=3)))
    opp = deal.ids["opportunity_id"]
    await api.wait_consumed(opp, 1)
    assert await api.alerts(opp, rule_id) == []
    r = await api.client.post(f"/rules/{rule_id}/enable", headers={**api.admin, "If-Match": '"1"'})
    problem(r, 412)
    await api.ok("POST", f"/rules/{rule_id}/enable", api.admin)
    await api.wait_alert(opp, rule_id)


async def test_simulation_lists_who_would_have_fired_and_when(api: Api) -> None:
    org = await api.org()
    early, late = org.deal(), org.deal()
    now = api.clock.now()
    await api.publish(
        "pipeline",
        early.opened(now - timedelta(days=20)),
        late.opened(now - timedelta(days=2)),
    )
    await api.wait_consumed(late.ids["opportunity_id"], 1)
    await api.wait_consumed(early.ids["opportunity_id"], 1)
    body = rule_body(org.region, after="P5D")
    body.pop("rule_id")
    sim = await api.ok(
        "POST", "/rules/simulate", api.admin, params={"as_of": now.isoformat()}, json=body
    )
    fired = {f["opportunity_id"]: f["due_at"] for f in sim["firings"]}
    assert early.ids["opportunity_id"] in fired
    assert late.ids["opportunity_id"] not in fired
    assert datetime.fromisoformat(fired[early.ids["opportunity_id"]]) == now - timedelta(days=15)
    earlier = await api.ok(
        "POST",
        "/rules/golden-72-hours/simulate",
        api.admin,
        params={"as_of": (now - timedelta(days=18)).isoformat()},
    )
    ids = {f["opportunity_id"] for f in earlier["firings"]}
    assert early.ids["opportunity_id"] not in ids  # due 17 days ago, after that as_of
    problem(await api.client.post("/rules/nope/simulate", headers=api.admin), 404)


async def test_people_acknowledge_and_resolve_with_a_comment(api: Api) -> None:
    org = await api.org()
    deal = org.deal()
    await api.publish("pipeline", deal.opened(api.clock.now() - timedelta(days=8)))
    opp = deal.ids["opportunity_id"]
    alert = await api.wait_alert(opp, "follow-up-gap")
    sup = api.as_(org.sup, "supervisor", org.region, org.team)
    stranger = api.as_("rep-z", "rep", org.region, "other-team")
    other_region = api.as_("rm-z", "regional_manager", "elsewhere")
    url = f"/alerts/{alert['alert_id']}"
    problem(await api.client.get(url, headers=stranger), 404)
    problem(await api.client.get(url, headers=other_region), 404)
    problem(await api.client.post(f"{url}/acknowledge", json={}, headers=stranger), 404)
    problem(
        await api.client.get("/alerts", params={"region": org.region}, headers=other_region), 403
    )

    acked = await api.ok("POST", f"{url}/acknowledge", sup, json={"comment": "on it"})
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == org.sup
    bad = problem(await api.client.post(f"{url}/resolve", json={}, headers=sup), 422)
    assert bad["errors"][0]["field"] == "comment"
    done = await api.ok(
        "POST", f"{url}/resolve", sup, json={"reason": "spoke to rep", "comment": "visit booked"}
    )
    assert (done["status"], done["resolved_by"], done["resolution_comment"]) == (
        "resolved",
        org.sup,
        "visit booked",
    )
    problem(await api.client.post(f"{url}/resolve", json={"comment": "x"}, headers=sup), 409)
    assert await api.stream(f"alert-{alert['alert_id']}") == [
        "AlertRaised",
        "AlertAcknowledged",
        "AlertResolved",
    ]
    # the manager up the chain sees it too; a rep who is no recipient does not
    rm = api.as_(org.rm, "regional_manager", org.region, "mgmt")
    assert (await api.ok("GET", url, rm))["status"] == "resolved"
    rep = api.as_(org.rep, "rep", org.region, org.team)
    page = await api.ok("GET", "/alerts", rep, params={"opportunity_id": opp})
    assert [a["rule_id"] for a in page["items"]] == ["golden-72-hours"]


async def test_alert_lists_are_paged_with_a_cursor(api: Api) -> None:
    org = await api.org()
    deals = [org.deal() for _ in range(3)]
    await api.publish("pipeline", *(d.opened(api.clock.now() - timedelta(days=8)) for d in deals))
    for d in deals:
        await api.wait_alert(d.ids["opportunity_id"], "follow-up-gap")
    sup = api.as_(org.sup, "supervisor", org.region, org.team)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"rule_id": "follow-up-gap", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await api.ok("GET", "/alerts", sup, params=params)
        seen += [a["opportunity_id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(d.ids["opportunity_id"] for d in deals)
    problem(await api.client.get("/alerts", params={"cursor": "%%%"}, headers=sup), 422)
    problem(await api.client.get("/alerts"), 401)
