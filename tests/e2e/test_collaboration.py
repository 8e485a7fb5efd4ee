"""The group customer story across the real processes: isolation, a grant, its expiry, a conflict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.flows import (
    EAST_REP,
    EAST_RM,
    EAST_SUP,
    NORTH_REP,
    PARTNER,
    SOUTH_REP,
    ok,
    open_when_known,
    register_account,
    set_up_org,
    until,
)

pytestmark = pytest.mark.e2e
GRANT_SECONDS = 6


def call(stack: Stack, opp_id: str, who: dict[str, str], summary: str) -> httpx.Response:
    body = {"kind": "call", "summary": summary, "contacts": ["Eng. Zhao"]}
    return httpx.post(
        f"{stack.url('pipeline')}/opportunities/{opp_id}/activities",
        json=body,
        headers=who,
        timeout=10,
    )


def timeline(stack: Stack, path: str, who: dict[str, str] = NORTH_REP) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    with httpx.Client(base_url=stack.url("collab"), headers=who, timeout=10) as c:
        while True:
            page = ok(
                c.get(
                    path,
                    params={"limit": 200, "order": "asc", **({"cursor": cursor} if cursor else {})},
                )
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def test_another_region_contacts_a_group_customer_only_through_an_approved_request(
    stack: Stack,
) -> None:
    set_up_org(stack)
    register_account(stack, "gc-east", "east", group_id="gc-group")
    register_account(stack, "gc-south", "south", group_id="gc-group")
    opp = open_when_known(stack, "gc-east")
    oid = opp["id"]
    pipeline = httpx.Client(base_url=stack.url("pipeline"), timeout=10)
    collab = httpx.Client(base_url=stack.url("collab"), timeout=10)
    ok(
        pipeline.post(
            f"/opportunities/{oid}/stakeholders",
            json={"name": "Eng. Zhao", "role": "technical_evaluator", "phone": "+86 21 5555 0101"},
            headers=EAST_REP,
        )
    )
    ok(call(stack, oid, EAST_REP, "technical session on inline inspection"))

    # a South rep is refused, and told who owns the account and how to ask
    body = {
        "account_id": "gc-east",
        "title": "same pretext",
        "amount": "1",
        "expected_close_date": "2027-01-01",
    }
    refused = pipeline.post("/opportunities", json=body, headers=SOUTH_REP)
    assert refused.status_code == 403
    assert refused.json()["owning_region"] == "east"
    assert call(stack, oid, SOUTH_REP, "cold call").status_code == 403

    now = datetime.now(UTC)
    window = {"start": now.isoformat(), "end": (now + timedelta(seconds=GRANT_SECONDS)).isoformat()}
    request = ok(
        collab.post(
            "/accounts/gc-east/contact-requests",
            json={
                "purpose": "joint session for the Guangzhou plant",
                "window_start": window["start"],
                "window_end": window["end"],
            },
            headers=SOUTH_REP,
        ),
        201,
    )
    rid = request["request_id"]
    inbox = ok(collab.get("/contact-requests", params={"box": "inbox"}, headers=EAST_SUP))
    assert rid in [r["request_id"] for r in inbox["items"]]
    ok(collab.post(f"/contact-requests/{rid}/approve", headers=EAST_SUP))

    # the pipeline learns the grant from collab's events
    until(lambda: call(stack, oid, SOUTH_REP, "granted call").status_code == 200)
    assert pipeline.post(f"/opportunities/{oid}/advance", headers=SOUTH_REP).status_code == 403

    # the grant expires; the next contact is refused again
    until(
        lambda: (
            ok(collab.get(f"/contact-requests/{rid}", headers=SOUTH_REP))["status"] == "expired"
        ),
        timeout_s=GRANT_SECONDS + 20,
    )
    assert call(stack, oid, SOUTH_REP, "after expiry").status_code == 403

    # a synced phone log without a grant is recorded anyway, and raises a conflict
    log = {
        "external_id": "pbx-7731",
        "channel": "phone",
        "contact": "+86-21-5555-0101",
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor_id": "rep-south",
        "actor_region": "south",
        "summary": "called the technical contact again",
    }
    synced = ok(pipeline.post("/ingest/activities", json={"logs": [log]}, headers=PARTNER))
    assert synced["created"] == 1
    month = datetime.now(UTC).strftime("%Y-%m")
    conflicts = until(
        lambda: ok(
            collab.get("/conflicts", params={"region": "east", "month": month}, headers=EAST_RM)
        )["items"],
        timeout_s=30,
    )
    assert [(c["contact_region"], c["source"]) for c in conflicts] == [("south", "phone_sync")]

    # a third region reads the whole story, in order
    expected_kinds = {
        "opportunity_opened",
        "activity",
        "contact_requested",
        "contact_approved",
        "contact_grant_expired",
        "conflict",
    }
    entries = until(
        lambda: (
            (e := timeline(stack, "/accounts/gc-east/timeline"))
            and expected_kinds <= {x["kind"] for x in e}
            and e
        )
    )
    times = [e["occurred_at"] for e in entries]
    assert times == sorted(times)
    activities = [e for e in entries if e["kind"] == "activity"]
    assert [e["region"] for e in activities] == ["east", "south", "south"]
    group = timeline(stack, "/groups/gc-group/timeline")
    assert {e["account_id"] for e in group} == {"gc-east"}
    assert len(group) == len(entries)

    # restart everything: nothing changes
    conflict_count = len(conflicts)
    stack.restart()
    after = timeline(stack, "/accounts/gc-east/timeline")
    assert [e["event_id"] for e in after] == [e["event_id"] for e in entries]
    again = ok(
        httpx.get(
            f"{stack.url('collab')}/conflicts",
            params={"region": "east", "month": month},
            headers=EAST_RM,
        )
    )
    assert len(again["items"]) == conflict_count
    status = ok(httpx.get(f"{stack.url('collab')}/contact-requests/{rid}", headers=SOUTH_REP))[
        "status"
    ]
    assert status == "expired"
    assert call(stack, oid, SOUTH_REP, "after restart").status_code == 403
    pipeline.close()
    collab.close()
