"""A deal from lead to won over REST: refused at every gate until its action package is complete."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration

ARTIFACTS: dict[str, dict[str, Any]] = {
    "requirement_checklist": {"business_goals": ["cut scrap 20%"], "scope": "3 CNC lines"},
    "needs_interview_notes": {
        "interviewees": ["Plant manager Li"],
        "current_process": "manual QA",
        "key_needs": ["inline inspection"],
    },
    "decision_chain_map": {"decision_maker": "COO Wang", "influencers": ["IT head"]},
    "pain_point_ranking": {"ranked_pain_points": ["scrap", "downtime"]},
    "competitive_response_plan": {
        "competitors": ["Rival GmbH"],
        "our_differentiators": ["local service"],
        "counter_strategy": "reference visit",
    },
    "proposal": {"price": 1150000, "terms": "30% upfront"},
    "contract_review": {"legal_approved": True, "signed_amount": 1150000},
}


async def advance(api: Api, opp_id: str) -> Any:
    return await api.client.post(f"/opportunities/{opp_id}/advance", headers=api.as_())


async def submit(api: Api, opp_id: str, kind: str) -> Any:
    r = await api.client.post(
        f"/opportunities/{opp_id}/artifacts",
        json={"kind": kind, "fields": ARTIFACTS[kind]},
        headers=api.as_(),
    )
    assert r.status_code == 200, r.text
    return r.json()


async def activity(api: Api, opp_id: str, kind: str, next_step: str | None = None) -> Any:
    body: dict[str, Any] = {"kind": kind, "summary": f"{kind} with the customer"}
    if next_step:
        body["next_step"] = next_step
    r = await api.client.post(f"/opportunities/{opp_id}/activities", json=body, headers=api.as_())
    assert r.status_code == 200, r.text
    return r.json()


def codes(problem: Any) -> list[str]:
    return [m["code"] for m in problem["missing"]]


async def refused_with(api: Api, opp_id: str, expected: list[str]) -> None:
    r = await advance(api, opp_id)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert sorted(codes(r.json())) == sorted(expected)


async def test_a_deal_walks_from_lead_to_won_only_through_complete_gates(api: Api) -> None:
    opp = await api.open()
    oid = opp["id"]
    assert opp["stage"] == "lead" and opp["gate"]["ready"] is False

    await refused_with(api, oid, ["activity:call|email|visit|meeting|interview"])
    await activity(api, oid, "note")  # internal notes are not customer contact
    await refused_with(api, oid, ["activity:call|email|visit|meeting|interview"])
    await activity(api, oid, "call")
    assert (await advance(api, oid)).json()["stage"] == "initial_contact"

    await refused_with(api, oid, ["artifact:requirement_checklist"])
    await submit(api, oid, "requirement_checklist")
    assert (await advance(api, oid)).json()["stage"] == "needs_confirmed"

    await refused_with(
        api,
        oid,
        [
            "artifact:needs_interview_notes",
            "artifact:decision_chain_map",
            "artifact:pain_point_ranking",
        ],
    )
    await submit(api, oid, "needs_interview_notes")
    await submit(api, oid, "pain_point_ranking")
    await refused_with(api, oid, ["artifact:decision_chain_map"])
    await submit(api, oid, "decision_chain_map")
    assert (await advance(api, oid)).json()["stage"] == "solution_demo"

    await activity(api, oid, "demo")  # a demo without a next step does not count
    await refused_with(
        api,
        oid,
        ["activity:demo", "artifact:competitive_response_plan", "stakeholder_roles:3"],
    )
    await activity(api, oid, "demo", next_step="pilot on line 2 next Tuesday")
    await submit(api, oid, "competitive_response_plan")
    for name, role in [("COO Wang", "decision_maker"), ("Eng. Zhao", "technical_evaluator")]:
        r = await api.client.post(
            f"/opportunities/{oid}/stakeholders",
            json={"name": name, "role": role},
            headers=api.as_(),
        )
        assert r.status_code == 200
    await refused_with(api, oid, ["stakeholder_roles:3"])
    await api.client.post(
        f"/opportunities/{oid}/stakeholders",
        json={"name": "Ms. Chen", "role": "finance_procurement"},
        headers=api.as_(),
    )
    assert (await advance(api, oid)).json()["stage"] == "negotiation"

    await refused_with(api, oid, ["artifact:proposal"])
    await submit(api, oid, "proposal")
    assert (await advance(api, oid)).json()["stage"] == "closing"

    r = await advance(api, oid)
    assert r.status_code == 409 and "close" in r.json()["detail"]
    won = await api.client.post(
        f"/opportunities/{oid}/close",
        json={"outcome": "won", "reason": "signed"},
        headers=api.as_(),
    )
    assert won.status_code == 409 and codes(won.json()) == ["artifact:contract_review"]
    await submit(api, oid, "contract_review")
    won = await api.client.post(
        f"/opportunities/{oid}/close",
        json={"outcome": "won", "reason": "signed"},
        headers=api.as_(),
    )
    assert won.status_code == 200, won.text
    assert won.json()["status"] == "won" and won.json()["gate"] is None

    history = (
        await api.client.get(f"/opportunities/{oid}/history?limit=500", headers=api.as_())
    ).json()
    types = [i["type"] for i in history["items"]]
    assert types[0] == "OpportunityOpened" and types[-1] == "OpportunityWon"
    assert types.count("StageAdvanced") == 5
    assert types.count("StageAdvanceBlocked") == 9, (
        "every refusal is recorded for death-node analysis"
    )
    assert [i["version"] for i in history["items"]] == list(range(1, len(types) + 1))


async def test_gate_status_says_what_is_missing_before_trying(api: Api) -> None:
    opp = await api.open()
    got = (await api.client.get(f"/opportunities/{opp['id']}", headers=api.as_())).json()
    assert got["gate"]["next_stage"] == "initial_contact"
    assert [m["code"] for m in got["gate"]["missing"]] == [
        "activity:call|email|visit|meeting|interview"
    ]
    assert got["gate"]["missing"][0]["detail_zh"].startswith("需记录")


async def test_artifact_fill_rate_counts_recommended_fields(api: Api) -> None:
    opp = await api.open()
    body = await submit(api, opp["id"], "requirement_checklist")  # 2 of 4 fields
    assert body["artifacts"][0]["fill_rate"] == 0.5


async def test_artifact_missing_a_required_field_is_refused_naming_it(api: Api) -> None:
    opp = await api.open()
    before = await api.event_count()
    r = await api.client.post(
        f"/opportunities/{opp['id']}/artifacts",
        json={"kind": "decision_chain_map", "fields": {"influencers": ["IT"]}},
        headers=api.as_(),
    )
    assert r.status_code == 422
    assert r.json()["fields"] == ["decision_maker"]
    assert await api.event_count() == before
