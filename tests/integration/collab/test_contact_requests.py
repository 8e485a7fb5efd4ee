"""Contact requests (协作申请): who asks, who decides, grants that expire exactly once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.collab_svc.entrypoints.scheduler import GrantExpiryScheduler
from tests.integration.collab.conftest import Api, Headers
from tests.support import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def regions(api: Api) -> None:
    await api.regions("east", "south", "north")


def window(now: datetime, start_h: float = 0, hours: float = 48) -> dict[str, str]:
    start = now + timedelta(hours=start_h)
    return {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=hours)).isoformat(),
    }


async def ask(api: Api, account_id: str, who: Headers | None = None, **body: Any) -> dict[str, Any]:
    payload = {"purpose": "joint technical session", **window(api.clock.now()), **body}
    return await api.ok(  # type: ignore[no-any-return]
        "POST",
        f"/accounts/{account_id}/contact-requests",
        who or api.rep("south"),
        201,
        json=payload,
    )


async def test_a_rep_of_another_region_asks_and_the_owning_supervisor_approves(api: Api) -> None:
    account = await api.account("east")
    requested = await ask(api, account["account_id"], **window(api.clock.now(), start_h=2))
    rid = requested["request_id"]
    assert (requested["status"], requested["owning_region"]) == ("pending", "east")
    assert (requested["requester_id"], requested["requester_region"]) == ("rep-south", "south")

    mine = await api.ok("GET", "/contact-requests", api.rep("south"), params={"box": "mine"})
    assert rid in [r["request_id"] for r in mine["items"]]
    inbox = await api.ok(
        "GET", "/contact-requests", api.supervisor("east"), params={"box": "inbox"}
    )
    assert rid in [r["request_id"] for r in inbox["items"]]
    elsewhere = await api.ok(
        "GET", "/contact-requests", api.supervisor("north"), params={"box": "inbox"}
    )
    assert rid not in [r["request_id"] for r in elsewhere["items"]]

    approved = await api.ok("POST", f"/contact-requests/{rid}/approve", api.supervisor("east"))
    assert approved["status"] == "approved" and approved["decided_by"] == "sup-east"
    # the grant starts with the window (later than now) and ends with it by default
    assert approved["valid_from"] == requested["window_start"].replace("Z", "+00:00")
    assert datetime.fromisoformat(approved["valid_until"]) == datetime.fromisoformat(
        requested["window_end"]
    )
    after = await api.ok(
        "GET", "/contact-requests", api.supervisor("east"), params={"box": "inbox"}
    )
    assert rid not in [r["request_id"] for r in after["items"]], "the inbox holds pending ones"
    approved_box = await api.ok(
        "GET", "/contact-requests", api.rep("south"), params={"box": "mine", "status": "approved"}
    )
    assert rid in [r["request_id"] for r in approved_box["items"]]
    assert await api.stream(f"contact-request-{rid}") == ["ContactRequested", "ContactApproved"]
    key = await api.scalar(
        "SELECT DISTINCT partition_key FROM events WHERE stream_id = :s", s=f"contact-request-{rid}"
    )
    assert key == account["account_id"]


async def test_deciding_twice_is_a_409_and_records_nothing(api: Api) -> None:
    account = await api.account("east")
    approved = (await ask(api, account["account_id"]))["request_id"]
    rejected = (await ask(api, account["account_id"]))["request_id"]
    await api.ok("POST", f"/contact-requests/{approved}/approve", api.manager("east"))
    rej = await api.ok(
        "POST",
        f"/contact-requests/{rejected}/reject",
        api.supervisor("east"),
        json={"reason": "East visits on Friday"},
    )
    assert (rej["status"], rej["reason"]) == ("rejected", "East visits on Friday")
    before = await api.event_count()
    for rid in (approved, rejected):
        for verb, body in (("approve", None), ("reject", {"reason": "again"})):
            r = await api.client.post(
                f"/contact-requests/{rid}/{verb}", json=body, headers=api.admin
            )
            assert r.status_code == 409 and r.json()["type"].endswith("/already-decided"), r.text
    assert await api.event_count() == before


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (("rep", "east"), 403),
        (("supervisor", "south"), 403),
        (("regional_manager", "north"), 403),
        (("partner", "east"), 403),
        (("supervisor", "east"), 200),
        (("regional_manager", "east"), 200),
        (("admin", "hq"), 200),
    ],
)
async def test_who_may_decide(api: Api, who: tuple[str, str], status: int) -> None:
    account = await api.account("east")
    rid = (await ask(api, account["account_id"]))["request_id"]
    role, region = who
    r = await api.client.post(
        f"/contact-requests/{rid}/approve", headers=api.as_("u", role, region, f"{region}-1")
    )
    assert r.status_code == status, r.text


async def test_the_owning_region_and_integration_accounts_do_not_ask(api: Api) -> None:
    account = await api.account("east")
    url = f"/accounts/{account['account_id']}/contact-requests"
    body = {"purpose": "p", **window(api.clock.now())}
    before = await api.event_count()
    own = await api.client.post(url, json=body, headers=api.rep("east"))
    assert own.status_code == 409
    assert (
        own.json()["type"].endswith("/own-region-account") and own.json()["owning_region"] == "east"
    )
    for who in (api.as_("p", "partner", "south", "s"), api.admin):
        assert (await api.client.post(url, json=body, headers=who)).status_code == 403
    assert await api.event_count() == before


@pytest.mark.parametrize(
    ("start_h", "hours", "field"),
    [
        (0, -1, "window_end"),  # ends before it starts
        (0, 0, "window_end"),  # empty
        (0, 24 * 91, "window_end"),  # longer than 90 days
        (-72, 24, "window_end"),  # over already
    ],
)
async def test_a_bad_window_is_a_422(api: Api, start_h: float, hours: float, field: str) -> None:
    account = await api.account("east")
    before = await api.event_count()
    r = await api.client.post(
        f"/accounts/{account['account_id']}/contact-requests",
        json={"purpose": "p", **window(api.clock.now(), start_h, hours)},
        headers=api.rep("south"),
    )
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert await api.event_count() == before


async def test_an_approval_stays_inside_the_window(api: Api) -> None:
    account = await api.account("east")
    req = await ask(api, account["account_id"])
    url = f"/contact-requests/{req['request_id']}/approve"
    end = datetime.fromisoformat(req["window_end"])
    too_long = await api.client.post(
        url, json={"valid_until": (end + timedelta(hours=1)).isoformat()}, headers=api.admin
    )
    assert too_long.status_code == 422 and too_long.json()["field"] == "valid_until"
    past = await api.client.post(
        url,
        json={"valid_until": (api.clock.now() - timedelta(hours=1)).isoformat()},
        headers=api.admin,
    )
    assert past.status_code == 422
    short = (api.clock.now() + timedelta(hours=3)).isoformat()
    approved = await api.ok("POST", url, api.admin, json={"valid_until": short})
    assert datetime.fromisoformat(approved["valid_until"]) == datetime.fromisoformat(short)


async def test_a_grant_expires_once_when_its_time_is_up(api: Api) -> None:
    account = await api.account("east")
    rid = (await ask(api, account["account_id"]))["request_id"]
    until = api.clock.now() + timedelta(hours=1)
    await api.ok(
        "POST",
        f"/contact-requests/{rid}/approve",
        api.supervisor("east"),
        json={"valid_until": until.isoformat()},
    )
    await asyncio.sleep(0.3)  # the scheduler runs every 0.1 s: nothing is due yet
    assert (await api.ok("GET", f"/contact-requests/{rid}", api.rep("south")))[
        "status"
    ] == "approved"

    api.clock.advance(timedelta(hours=2))

    async def expired() -> bool:
        got = await api.ok("GET", f"/contact-requests/{rid}", api.rep("south"))
        return got["status"] == "expired"

    await eventually(expired)
    await asyncio.sleep(0.3)  # more scheduler rounds change nothing
    assert await api.stream(f"contact-request-{rid}") == [
        "ContactRequested",
        "ContactApproved",
        "ContactGrantExpired",
    ]
    got = await api.ok("GET", f"/contact-requests/{rid}", api.rep("south"))
    assert datetime.fromisoformat(got["expired_at"]) == until


async def test_concurrent_schedulers_expire_each_grant_exactly_once(api: Api) -> None:
    account = await api.account("east")
    rids = []
    for _ in range(6):
        rid = (await ask(api, account["account_id"]))["request_id"]
        await api.ok(
            "POST",
            f"/contact-requests/{rid}/approve",
            api.admin,
            json={"valid_until": (api.clock.now() + timedelta(minutes=5)).isoformat()},
        )
        rids.append(rid)
    svc = api.app.state.collab
    schedulers = [GrantExpiryScheduler(svc.uow, api.clock) for _ in range(4)]
    api.clock.advance(timedelta(minutes=10))
    results = await asyncio.gather(*(s.tick() for s in schedulers))
    await eventually(
        lambda: api.scalar(
            "SELECT count(*) = 0 FROM contact_requests WHERE request_id = ANY(:ids) AND status <> 'expired'",
            ids=rids,
        )
    )
    expired = await api.scalar(
        "SELECT count(*) FROM events WHERE event_name = 'ContactGrantExpired' AND stream_id = ANY(:s)",
        s=[f"contact-request-{r}" for r in rids],
    )
    assert expired == len(rids)
    assert sum(results) <= len(rids)


async def test_only_the_requester_and_the_owning_approvers_see_a_request(api: Api) -> None:
    account = await api.account("east")
    rid = (await ask(api, account["account_id"]))["request_id"]
    for who in (api.rep("south"), api.supervisor("east"), api.admin):
        await api.ok("GET", f"/contact-requests/{rid}", who)
    for who in (api.rep("south", sub="rep-other"), api.rep("east"), api.supervisor("north")):
        assert (await api.client.get(f"/contact-requests/{rid}", headers=who)).status_code == 403
    inbox = await api.client.get(
        "/contact-requests", params={"box": "inbox"}, headers=api.rep("east")
    )
    assert inbox.status_code == 403
    other = await api.client.get(
        "/contact-requests",
        params={"box": "inbox", "region": "east"},
        headers=api.supervisor("south"),
    )
    assert other.status_code == 403
    everything = await api.ok(
        "GET", "/contact-requests", api.admin, params={"box": "inbox", "limit": 200}
    )
    assert rid in [r["request_id"] for r in everything["items"]]


async def test_unknown_requests_and_accounts_are_404(api: Api) -> None:
    before = await api.event_count()
    for url in ("/contact-requests/ghost/approve", "/accounts/ghost/contact-requests"):
        body = {"purpose": "p", **window(api.clock.now())} if "accounts" in url else None
        r = await api.client.post(url, json=body, headers=api.rep("south"))
        assert r.status_code == 404, r.text
    assert (await api.client.get("/contact-requests/ghost", headers=api.admin)).status_code == 404
    assert await api.event_count() == before
