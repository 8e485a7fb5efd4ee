"""Cross-region conflicts: raised for contact without a grant, never twice, right out of order."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.contracts.collab import ContactApproved
from shared.events.cloudevents import decode
from shared.events.registry import registry
from tests.integration.collab.conftest import Api, unique
from tests.integration.collab.pipeline import Deal
from tests.support import eventually, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def regions(api: Api) -> None:
    await api.regions("east", "south", "north")


async def grant(api: Api, account: str, rep: str, hours: float = 48) -> dict[str, Any]:
    """A south rep's request, approved by east until now + `hours`."""
    now = api.clock.now()
    body = {
        "purpose": "joint visit",
        "window_start": now.isoformat(),
        "window_end": (now + timedelta(days=5)).isoformat(),
    }
    req = await api.ok(
        "POST", f"/accounts/{account}/contact-requests", api.rep("south", sub=rep), 201, json=body
    )
    until = (now + timedelta(hours=hours)).isoformat()
    return await api.ok(  # type: ignore[no-any-return]
        "POST",
        f"/contact-requests/{req['request_id']}/approve",
        api.supervisor("east"),
        json={"valid_until": until},
    )


async def conflict_of(api: Api, activity_id: str) -> dict[str, Any] | None:
    rows = await api.ok("GET", "/conflicts", api.admin, params={"limit": 200})
    while True:
        found = next((c for c in rows["items"] if c["activity_id"] == activity_id), None)
        if found or rows["next_cursor"] is None:
            return found
        rows = await api.ok(
            "GET", "/conflicts", api.admin, params={"limit": 200, "cursor": rows["next_cursor"]}
        )


async def wait_conflict(api: Api, activity_id: str) -> dict[str, Any]:
    return await eventually(lambda: conflict_of(api, activity_id), timeout_s=60)  # type: ignore[no-any-return]


def activity_id(env: Any) -> str:
    return env.event.activity_id  # type: ignore[no-any-return]


async def test_contact_without_a_grant_raises_one_conflict_with_a_grant_none(api: Api) -> None:
    account = (await api.account("east", group_id="grp-c"))["account_id"]
    deal = Deal(account)
    granted_rep, other_rep = unique("rep-s"), unique("rep-s")
    await grant(api, account, granted_rep)
    now = api.clock.now()
    with_grant = deal.activity(now + timedelta(hours=1), granted_rep, "south")
    own_region = deal.activity(now + timedelta(hours=1), "rep-east", "east")
    internal = deal.activity(now, other_rep, "south", kind="note", customer_facing=False)
    without = deal.activity(
        now + timedelta(hours=2), other_rep, "south", kind="visit", source="phone_sync"
    )
    # one account, one partition, in order: once the last one is judged, so are the others
    await api.publish(with_grant, own_region, internal, without)
    conflict = await wait_conflict(api, activity_id(without))
    assert (conflict["owning_region"], conflict["contact_region"]) == ("east", "south")
    assert (conflict["actor_id"], conflict["activity_kind"], conflict["source"]) == (
        other_rep,
        "visit",
        "phone_sync",
    )
    assert conflict["group_id"] == "grp-c"
    for quiet in (with_grant, own_region, internal):
        assert await conflict_of(api, activity_id(quiet)) is None
    assert await api.stream(f"conflict-{activity_id(without)}") == ["CrossRegionConflictDetected"]
    # the conflict is on the timeline too, beside the contact
    items = await api.wait_timeline(account, 1, kind="conflict")
    assert [i["data"]["activity_id"] for i in items] == [activity_id(without)]

    # redelivered (same event id) or re-sent with a new id: still one conflict
    again = dataclasses.replace(without, event_id=uuid.uuid4())
    await api.publish(without, again, deal.activity(now + timedelta(hours=3), other_rep, "south"))
    await eventually(
        lambda: api.scalar(
            "SELECT count(*) = 2 FROM events WHERE event_name = 'CrossRegionConflictDetected'"
            " AND partition_key = :a",
            a=account,
        ),
        timeout_s=60,
    )
    assert await api.stream(f"conflict-{activity_id(without)}") == ["CrossRegionConflictDetected"]


async def test_a_grant_counts_only_inside_its_window(api: Api) -> None:
    account = (await api.account("east"))["account_id"]
    rep = unique("rep-s")
    approved = await grant(api, account, rep, hours=1)
    start = datetime.fromisoformat(approved["valid_from"])
    api.clock.advance(timedelta(hours=2))
    await eventually(
        lambda: api.scalar(
            "SELECT status = 'expired' FROM contact_requests WHERE request_id = :r",
            r=approved["request_id"],
        )
    )
    deal = Deal(account)
    during = deal.activity(start + timedelta(minutes=30), rep, "south")  # reported after expiry
    after = deal.activity(start + timedelta(hours=1, minutes=30), rep, "south")
    await api.publish(during, after)
    await wait_conflict(api, activity_id(after))
    assert await conflict_of(api, activity_id(during)) is None


async def test_an_activity_before_its_account_is_known_is_judged_on_registration(api: Api) -> None:
    account, home = unique("acct"), unique("acct")
    deal, home_deal = Deal(account), Deal(home)
    rep = unique("rep-s")
    early = deal.activity(api.clock.now() - timedelta(days=2), rep, "south")
    by_owner = home_deal.activity(api.clock.now() - timedelta(days=2), "rep-east", "east")
    await api.publish(early, by_owner)

    async def parked() -> bool:
        n = await api.scalar(
            "SELECT count(*) FROM pending_conflict_checks WHERE account_id = ANY(:a)",
            a=[account, home],
        )
        return n == 2

    await eventually(parked, timeout_s=60)
    assert await conflict_of(api, activity_id(early)) is None, "unknown owner: no guess"

    await api.account("east", account_id=account)
    await api.account("east", account_id=home)
    conflict = await wait_conflict(api, activity_id(early))
    assert conflict["owning_region"] == "east"
    await eventually(
        lambda: api.scalar(
            "SELECT count(*) = 0 FROM pending_conflict_checks WHERE account_id = ANY(:a)",
            a=[account, home],
        )
    )
    assert await conflict_of(api, activity_id(by_owner)) is None


async def test_a_redelivered_contact_approved_extends_nothing(api: Api) -> None:
    account = (await api.account("east"))["account_id"]
    rep = unique("rep-s")
    approved = await grant(api, account, rep, hours=1)
    collab_topic = api.settings.topic("collab")

    def has_approval(records: list[Any]) -> bool:
        return any(_approval_of(r, approved["request_id"]) for r in records)

    records = await read_topic(
        api.settings.kafka_bootstrap_servers or "", collab_topic, has_approval
    )
    original = next(r for r in records if _approval_of(r, approved["request_id"]))
    env = decode(original.headers, original.value, registry)
    assert isinstance(env.event, ContactApproved)
    longer = env.event.model_copy(
        update={"valid_until": env.event.valid_until + timedelta(days=30)}
    )
    forged = dataclasses.replace(env, event_id=uuid.uuid4(), event=longer)
    await api.publish(env, forged, topic=collab_topic)

    until = datetime.fromisoformat(approved["valid_until"])
    deal = Deal(account)
    late = deal.activity(until + timedelta(hours=1), rep, "south")
    await api.publish(late)
    await wait_conflict(api, activity_id(late))  # the grant still ends where it was approved
    got = await api.ok(
        "GET", f"/contact-requests/{approved['request_id']}", api.rep("south", sub=rep)
    )
    assert (got["valid_until"], got["version"]) == (approved["valid_until"], approved["version"])
    # the copy under a new id is another message on the topic, so the timeline shows it; once it
    # is there, the redelivery sent before it on the same partition was consumed too
    entries = await api.wait_timeline(account, 2, kind="contact_approved")
    assert [i["event_id"] for i in entries].count(str(env.event_id)) == 1


def _approval_of(record: Any, request_id: str) -> bool:
    headers = dict(record.headers)
    if headers.get("ce_type") != b"sightline.collab.ContactApproved.v1":
        return False
    return request_id.encode() in record.value


async def test_conflicts_are_listed_per_region_and_month_for_approvers(api: Api) -> None:
    account = (await api.account("north"))["account_id"]
    deal = Deal(account, "north", "rep-north")
    month_start = (api.clock.now() + timedelta(days=40)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    future = month_start + timedelta(days=3)  # a month no other test writes to
    api.clock.advance(future - api.clock.now() + timedelta(days=1))
    contacts = [
        deal.activity(future + timedelta(hours=h), unique("rep-s"), "south") for h in range(3)
    ]
    await api.publish(*contacts)
    for c in contacts:
        await wait_conflict(api, activity_id(c))
    month = month_start.strftime("%Y-%m")

    north = await api.ok("GET", "/conflicts", api.supervisor("north"), params={"month": month})
    assert [c["activity_id"] for c in north["items"]] == [activity_id(c) for c in contacts]
    south = await api.ok(
        "GET", "/conflicts", api.manager("south"), params={"month": month, "limit": 2}
    )
    rest = await api.ok(
        "GET",
        "/conflicts",
        api.manager("south"),
        params={"month": month, "limit": 2, "cursor": south["next_cursor"]},
    )
    assert len(south["items"] + rest["items"]) == 3
    east = await api.ok("GET", "/conflicts", api.supervisor("east"), params={"month": month})
    assert east["items"] == []
    summary = await api.ok(
        "GET", "/conflicts/summary", api.manager("east"), params={"month": month}
    )
    assert summary == {
        "month": month,
        "regions": [
            {"region": "north", "as_owner": 3, "as_contact": 0, "total": 3},
            {"region": "south", "as_owner": 0, "as_contact": 3, "total": 3},
        ],
    }
    for refused, params in (
        (api.rep("north"), {}),
        (api.as_("p", "partner", "north", "x"), {}),
        (api.supervisor("east"), {"region": "north"}),
    ):
        r = await api.client.get("/conflicts", params=params, headers=refused)
        assert r.status_code == 403, r.text
    assert (await api.client.get("/conflicts/summary", headers=api.rep("east"))).status_code == 403
    bad = await api.client.get("/conflicts", params={"month": "2026-13"}, headers=api.admin)
    assert bad.status_code == 422
