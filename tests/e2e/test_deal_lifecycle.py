"""A deal from lead to won through the real processes; every event on Kafka as a CloudEvent."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import shared.contracts  # noqa: F401
from shared.events.cloudevents import decode
from shared.events.registry import registry
from tests.e2e.conftest import Stack
from tests.e2e.flows import EAST_REP, ok, open_when_known, register_account, set_up_org
from tests.integration.pipeline.test_gate_walk import ARTIFACTS
from tests.support import header, read_topic

pytestmark = pytest.mark.e2e

GATES: list[tuple[str, Any]] = [
    ("activities", {"kind": "call", "summary": "first call"}),
    ("artifacts", {"kind": "requirement_checklist", "fields": ARTIFACTS["requirement_checklist"]}),
    ("artifacts", {"kind": "needs_interview_notes", "fields": ARTIFACTS["needs_interview_notes"]}),
    ("artifacts", {"kind": "decision_chain_map", "fields": ARTIFACTS["decision_chain_map"]}),
    ("artifacts", {"kind": "pain_point_ranking", "fields": ARTIFACTS["pain_point_ranking"]}),
    ("activities", {"kind": "demo", "next_step": "pilot on line 2"}),
    (
        "artifacts",
        {"kind": "competitive_response_plan", "fields": ARTIFACTS["competitive_response_plan"]},
    ),
    ("stakeholders", {"name": "COO Wang", "role": "decision_maker"}),
    ("stakeholders", {"name": "Eng. Zhao", "role": "technical_evaluator"}),
    ("stakeholders", {"name": "Ms. Chen", "role": "finance_procurement"}),
    ("artifacts", {"kind": "proposal", "fields": ARTIFACTS["proposal"]}),
    ("artifacts", {"kind": "contract_review", "fields": ARTIFACTS["contract_review"]}),
]
# after which step of GATES the deal can move on, and to where
MOVES = {
    0: "initial_contact",
    1: "needs_confirmed",
    4: "solution_demo",
    9: "negotiation",
    10: "closing",
}


def test_a_deal_is_refused_at_each_gate_until_complete_and_its_events_reach_kafka(
    stack: Stack,
) -> None:
    set_up_org(stack)
    register_account(stack, "acme-sh", group_id="acme-group", contact_emails=["buyer@acme.example"])
    opp = open_when_known(stack, "acme-sh")
    oid = opp["id"]
    with httpx.Client(base_url=stack.url("pipeline"), headers=EAST_REP, timeout=10) as c:
        refusals = 0
        for step, (path, body) in enumerate(GATES):
            stage_before = ok(c.get(f"/opportunities/{oid}"))["stage"]
            if step in MOVES or step == 0:
                refused = c.post(f"/opportunities/{oid}/advance")
                if refused.status_code == 409:
                    refusals += 1
                    assert refused.json()["missing"], "a refusal lists what is missing"
            ok(c.post(f"/opportunities/{oid}/{path}", json=body))
            if step in MOVES:
                moved = ok(c.post(f"/opportunities/{oid}/advance"))
                assert moved["stage"] == MOVES[step], (stage_before, moved["stage"])
        won = ok(c.post(f"/opportunities/{oid}/close", json={"outcome": "won", "reason": "signed"}))
        assert won["status"] == "won"
        assert refusals >= 5
        history = ok(c.get(f"/opportunities/{oid}/history?limit=500"))["items"]

    topic = f"{stack.topic_prefix}pipeline.events"
    stream = f"opportunity-{oid}"

    def complete(records: list[Any]) -> bool:
        return len(
            {header(r, "ce_id") for r in records if header(r, "ce_subject") == stream}
        ) >= len(history)

    records = asyncio.run(read_topic(stack.runtime.bootstrap, topic, complete, timeout_s=30))
    ours = [r for r in records if header(r, "ce_subject") == stream]
    by_id = {header(r, "ce_id"): r for r in ours}
    assert set(by_id) == {h["event_id"] for h in history}
    for item in history:
        record = by_id[item["event_id"]]
        envelope = decode(
            record.headers, record.value, registry
        )  # raises unless a valid CloudEvent
        assert header(record, "ce_specversion") == "1.0"
        assert header(record, "ce_type") == f"sightline.pipeline.{item['type']}.v1"
        assert header(record, "ce_source") == "/sightline/pipeline"
        assert envelope.version == item["version"]
        assert envelope.event.payload() == item["data"]
        assert record.key == b"acme-sh", "keyed by account so one account's history stays ordered"
    versions = [int(header(r, "ce_streamversion") or 0) for r in ours]
    assert versions == sorted(versions), "one partition, stream order"

    before = ok(httpx.get(f"{stack.url('pipeline')}/opportunities/{oid}", headers=EAST_REP))
    stack.restart()
    after = ok(httpx.get(f"{stack.url('pipeline')}/opportunities/{oid}", headers=EAST_REP))
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    again = ok(
        httpx.get(
            f"{stack.url('pipeline')}/opportunities/{oid}/history?limit=500", headers=EAST_REP
        )
    )
    assert again["items"] == history
