"""The cross-region timeline: built from pipeline and collab events, read by any region."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.collab.conftest import Api, unique
from tests.integration.collab.pipeline import Deal
from tests.support import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def regions(api: Api) -> None:
    await api.regions("east", "south", "north")


def kinds(items: list[dict[str, Any]]) -> list[str]:
    return [i["kind"] for i in items]


async def test_a_third_region_reads_the_whole_story_in_business_time_order(api: Api) -> None:
    group = unique("grp")
    account = (await api.account("east", group_id=group))["account_id"]
    t0 = api.clock.now() - timedelta(days=30)
    deal = Deal(account)
    calls = [
        deal.activity(
            t0 + timedelta(days=d),
            contacts=["Dr. Chen (CTO)", "Ms. Wu"],
            summary=f"call {d}",
            objections_raised=[f"price {d}"],
            objections_resolved=[f"price {d - 1}"] if d > 1 else [],
            next_step="send TCO model",
        )
        for d in (1, 2, 3, 4)
    ]
    sent = [deal.opened(t0), *calls, deal.artifact(t0 + timedelta(days=5))]
    sent += [deal.advanced(t0 + timedelta(days=6)), deal.blocked(t0 + timedelta(days=7))]
    sent.append(deal.won(t0 + timedelta(days=8)))
    # published out of business-time order: the timeline sorts by occurred_at, not arrival
    await api.publish(*reversed(sent))
    items = await api.wait_timeline(account, len(sent), order="asc")

    assert kinds(items) == [
        "opportunity_opened",
        "activity",
        "activity",
        "activity",
        "activity",
        "artifact",
        "stage_advanced",
        "stage_blocked",
        "opportunity_won",
    ]
    assert all(i["group_id"] == group for i in items)
    assert [i["event_id"] for i in items] == [str(e.event_id) for e in sent]

    # "the last three conversations and how their objections were resolved"
    last3 = await api.timeline(account, kind="activity", order="desc", limit=3)
    assert [i["data"]["summary"] for i in last3["items"]] == ["call 4", "call 3", "call 2"]
    assert last3["items"][0]["data"]["objections_resolved"] == ["price 3"]
    assert last3["items"][0]["region"] == "east" and last3["items"][0]["actor"] == "rep-east"
    assert last3["next_cursor"] is not None

    window = await api.timeline(
        account,
        order="asc",
        since=(t0 + timedelta(days=2)).isoformat(),
        until=(t0 + timedelta(days=6)).isoformat(),
    )
    assert kinds(window["items"]) == ["activity", "activity", "activity", "artifact"]
    two = await api.timeline(account, kind=["stage_advanced", "opportunity_won"], order="asc")
    assert kinds(two["items"]) == ["stage_advanced", "opportunity_won"]
    assert (await api.timeline(account, region="south"))["items"] == []

    partner = api.as_("partner-1", "partner", "nowhere", "x")
    assert len((await api.timeline(account, partner, limit=200))["items"]) == len(sent)


async def test_pages_follow_the_cursor_without_gaps_or_repeats(api: Api) -> None:
    account = (await api.account("east"))["account_id"]
    deal = Deal(account)
    t0 = api.clock.now() - timedelta(days=10)
    sent = [deal.activity(t0 + timedelta(hours=h), summary=str(h)) for h in range(23)]
    # the same instant twice: (occurred_at, seq) still orders them
    sent.append(deal.activity(t0, summary="tie"))
    await api.publish(*sent)
    await api.wait_timeline(account, len(sent))
    for order in ("asc", "desc"):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"order": order, "limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = await api.timeline(account, **params)
            seen += [i["event_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == len(sent), order
        everything = (await api.timeline(account, order=order, limit=200))["items"]
        assert seen == [i["event_id"] for i in everything]


async def test_a_group_timeline_spans_its_accounts_in_several_regions(api: Api) -> None:
    group = unique("grp")
    east = (await api.account("east", group_id=group))["account_id"]
    south = (await api.account("south", group_id=group))["account_id"]
    t0 = api.clock.now() - timedelta(days=3)
    e_deal, s_deal = Deal(east), Deal(south, "south", "rep-south")
    await api.publish(
        e_deal.activity(t0 + timedelta(hours=1), summary="east technical session"),
        s_deal.activity(t0 + timedelta(hours=2), summary="south call, same pretext"),
    )

    async def both() -> list[Any] | None:
        got = await api.ok(
            "GET", f"/groups/{group}/timeline", api.rep("north"), params={"order": "asc"}
        )
        return got["items"] if len(got["items"]) == 2 else None

    items = await eventually(both, timeout_s=60)
    assert [(i["account_id"], i["region"]) for i in items] == [(east, "east"), (south, "south")]
    south_only = await api.ok(
        "GET", f"/groups/{group}/timeline", api.rep("north"), params={"region": "south"}
    )
    assert [i["account_id"] for i in south_only["items"]] == [south]


async def test_events_before_the_account_is_registered_join_its_group_later(api: Api) -> None:
    account, group = unique("acct"), unique("grp")
    deal = Deal(account)
    await api.publish(deal.opened(api.clock.now() - timedelta(days=1)))
    items = await api.wait_timeline(account, 1)
    assert items[0]["group_id"] is None
    unknown_group = await api.client.get(f"/groups/{group}/timeline", headers=api.rep("north"))
    assert unknown_group.status_code == 404

    await api.account("east", group_id=group, account_id=account)

    async def backfilled() -> list[Any] | None:
        got = await api.ok("GET", f"/groups/{group}/timeline", api.rep("north"))
        return got["items"] or None

    assert [i["account_id"] for i in await eventually(backfilled, timeout_s=60)] == [account]
    new_group = unique("grp")
    await api.ok(
        "PUT",
        f"/accounts/{account}",
        api.manager("east"),
        json={"name": "A", "group_id": new_group},
    )

    async def moved() -> bool:
        got = await api.ok("GET", f"/groups/{new_group}/timeline", api.rep("north"))
        return len(got["items"]) == 1

    await eventually(moved, timeout_s=60)


async def test_contact_requests_and_decisions_appear_on_the_timeline(api: Api) -> None:
    account = (await api.account("east"))["account_id"]
    now = api.clock.now()
    body = {
        "purpose": "joint demo",
        "window_start": now.isoformat(),
        "window_end": (now + timedelta(days=2)).isoformat(),
    }
    req = await api.ok(
        "POST", f"/accounts/{account}/contact-requests", api.rep("south"), 201, json=body
    )
    api.clock.advance(timedelta(minutes=1))
    await api.ok("POST", f"/contact-requests/{req['request_id']}/approve", api.supervisor("east"))
    await api.ok(
        "POST",
        f"/accounts/{account}/transfer",
        api.manager("east"),
        json={"to_region": "south", "reason": "reorganisation"},
    )
    items = await api.wait_timeline(account, 3, order="asc")
    assert [(i["kind"], i["region"], i["actor"]) for i in items] == [
        ("contact_requested", "south", "rep-south"),
        ("contact_approved", "east", "sup-east"),
        ("ownership_transferred", "east", "rm-east"),
    ]
    assert items[0]["data"]["purpose"] == "joint demo"


async def test_how_often_a_contact_responded_week_by_week(api: Api) -> None:
    account = (await api.account("east"))["account_id"]
    deal = Deal(account)
    monday = (api.clock.now() - timedelta(days=60)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    monday -= timedelta(days=monday.weekday())
    at = [
        monday,
        monday + timedelta(days=2),
        monday + timedelta(days=15),
        monday + timedelta(days=16),
    ]
    sent = [deal.activity(t, contacts=["Dr. Chen (CTO)"]) for t in at]
    sent.append(deal.activity(monday + timedelta(days=1), contacts=["Ms. Wu"]))
    await api.publish(*sent)
    await api.wait_timeline(account, len(sent))
    freq = await api.ok(
        "GET",
        f"/accounts/{account}/contact-frequency",
        api.rep("north"),
        params={"contact": "dr. chen (cto)"},
    )
    weeks = [(w["week_start"], w["activities"]) for w in freq["weeks"]]
    assert weeks == [
        (monday.date().isoformat(), 2),
        ((monday + timedelta(days=7)).date().isoformat(), 0),
        ((monday + timedelta(days=14)).date().isoformat(), 2),
    ]
    assert freq["total"] == 4
    year, week, _ = monday.isocalendar()
    assert freq["weeks"][0]["week"] == f"{year}-W{week:02d}"
    nobody = await api.ok(
        "GET",
        f"/accounts/{account}/contact-frequency",
        api.rep("north"),
        params={"contact": "Mr. Nobody"},
    )
    assert (nobody["total"], nobody["weeks"]) == (0, [])


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "gossip"},
        {"order": "sideways"},
        {"cursor": "%%%"},
        {"limit": 0},
        {"limit": 201},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ],
)
async def test_bad_timeline_queries_are_422(api: Api, params: dict[str, Any]) -> None:
    account = (await api.account("east"))["account_id"]
    r = await api.client.get(
        f"/accounts/{account}/timeline", params=params, headers=api.rep("north")
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_unknown_accounts_and_groups_have_no_timeline(api: Api) -> None:
    for url in (
        "/accounts/ghost/timeline",
        "/groups/ghost/timeline",
        "/accounts/ghost/contact-frequency?contact=x",
    ):
        r = await api.client.get(url, headers=api.rep("north"))
        assert r.status_code == 404, r.text
