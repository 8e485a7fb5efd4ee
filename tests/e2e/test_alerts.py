"""Alerts through the real processes: history opened with backdated business time through the
pipeline's REST API fires the seed rules at once, to the right people; an interview logged
through the pipeline resolves them; AlertRaised reaches `alert.events` as a CloudEvent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import shared.contracts  # noqa: F401
from shared.events.cloudevents import decode
from shared.events.registry import registry
from tests.e2e.conftest import Stack
from tests.e2e.flows import ADMIN, EAST_REP, EAST_SUP, ok, register_account, set_up_org, until
from tests.support import header, read_topic

pytestmark = pytest.mark.e2e


def member(stack: Stack, member_id: str, role: str, manager: str | None = None) -> None:
    body = {
        "member_id": member_id,
        "name": member_id,
        "role": role,
        "region_id": "east",
        "team_id": "east-1",
        "manager_id": manager,
    }
    ok(httpx.post(f"{stack.url('collab')}/org/members", json=body, headers=ADMIN, timeout=10), 201)


def open_backdated(stack: Stack, account_id: str, opened_at: datetime) -> dict[str, Any]:
    body = {
        "account_id": account_id,
        "title": "imported lead",
        "amount": "800000",
        "expected_close_date": "2027-06-30",
        "occurred_at": opened_at.isoformat(),
    }

    def attempt() -> dict[str, Any] | None:
        r = httpx.post(
            f"{stack.url('pipeline')}/opportunities", json=body, headers=EAST_REP, timeout=10
        )
        if r.status_code == 409 and r.json()["type"].endswith("account-not-yet-known"):
            return None
        return ok(r, 201)  # type: ignore[no-any-return]

    return until(attempt)  # type: ignore[no-any-return]


def alerts(stack: Stack, opp: str, status: str | None = None) -> dict[str, dict[str, Any]]:
    params = {"opportunity_id": opp, **({"status": status} if status else {})}
    page = ok(
        httpx.get(f"{stack.url('alert')}/alerts", params=params, headers=EAST_SUP, timeout=10)
    )
    return {a["rule_id"]: a for a in page["items"]}


def test_backdated_history_fires_the_seed_rules_and_an_interview_resolves_them(
    stack: Stack,
) -> None:
    set_up_org(stack)
    member(stack, "sup-east", "supervisor")
    member(stack, "rep-east", "rep", manager="sup-east")
    # routing reads the directory when an alert fires: the members are published before the
    # account, and the deal opens only once the pipeline has consumed the account from the
    # same topic; alert_svc's group (alert-org) reads those same messages meanwhile (the
    # embedded broker's committed offsets are no reliable signal to wait on)
    register_account(stack, "imported-co")
    opened_at = (datetime.now(UTC) - timedelta(days=8)).replace(microsecond=0)
    oid = open_backdated(stack, "imported-co", opened_at)["id"]

    raised = until(lambda: len(alerts(stack, oid)) == 2 and alerts(stack, oid), timeout_s=60)
    gap, golden = raised["follow-up-gap"], raised["golden-72-hours"]
    assert datetime.fromisoformat(gap["due_at"]) == opened_at + timedelta(days=7)
    assert gap["recipients"] == ["sup-east"] and gap["message"] == "supervisor intervention"
    assert datetime.fromisoformat(golden["due_at"]) == opened_at + timedelta(hours=72)
    assert golden["recipients"] == ["rep-east", "sup-east"]
    bench = ok(httpx.get(f"{stack.url('alert')}/workbench", headers=EAST_SUP, timeout=10))
    assert {gap["alert_id"], golden["alert_id"]} <= {i["alert_id"] for i in bench["items"]}

    interview = {"kind": "interview", "contacts": ["Plant manager"], "summary": "needs interview"}
    ok(
        httpx.post(
            f"{stack.url('pipeline')}/opportunities/{oid}/activities",
            json=interview,
            headers=EAST_REP,
            timeout=10,
        )
    )
    resolved = until(lambda: len(alerts(stack, oid, "resolved")) == 2 and alerts(stack, oid))
    assert {a["resolution_reason"] for a in resolved.values()} == {"interview held"}

    topic = f"{stack.topic_prefix}alert.events"
    ids = {gap["alert_id"], golden["alert_id"]}

    def complete(records: list[Any]) -> bool:
        seen = {header(r, "ce_subject") for r in records}
        return all(f"alert-{i}" in seen for i in ids)

    records = asyncio.run(read_topic(stack.runtime.bootstrap, topic, complete, timeout_s=30))
    ours = [r for r in records if header(r, "ce_subject") in {f"alert-{i}" for i in ids}]
    raised_events = [decode(r.headers, r.value, registry) for r in ours]
    assert {e.event.event_name for e in raised_events} >= {"AlertRaised"}
    for r in ours:
        assert r.key == b"imported-co"
        assert header(r, "ce_region") == "east"
