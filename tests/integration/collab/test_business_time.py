"""Business time in collab: the importer loads a dated org directory, accounts and grants."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.collab.conftest import Api, Headers, assert_problem, unique

pytestmark = pytest.mark.integration


def importer(api: Api) -> Headers:
    return api.as_("crm-import", "importer", "hq", "integrations")


async def occurred(api: Api, stream_id: str) -> list[tuple[str, datetime]]:
    async with api.app.state.collab.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_name, occurred_at FROM events WHERE stream_id = :s ORDER BY version"
            ),
            {"s": stream_id},
        )
        return [(r.event_name, r.occurred_at) for r in rows]


def dated(body: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {**body, "occurred_at": at.isoformat()}


async def test_the_importer_backdates_the_org_directory(api: Api) -> None:
    who, t0 = importer(api), api.clock.now() - timedelta(days=365)
    region, member = unique("reg"), unique("rep")
    team_a, team_b = f"{region}-a", f"{region}-b"
    await api.ok(
        "POST", "/org/regions", who, 201, json=dated({"region_id": region, "name": "R"}, t0)
    )
    for i, team in enumerate((team_a, team_b), start=1):
        body = {"team_id": team, "region_id": region, "name": team}
        await api.ok("POST", "/org/teams", who, 201, json=dated(body, t0 + timedelta(days=i)))
    placed = {"name": "Wang", "role": "rep", "region_id": region}
    body = dated({**placed, "member_id": member, "team_id": team_a}, t0 + timedelta(days=3))
    await api.ok("POST", "/org/members", who, 201, json=body)
    moved_at = t0 + timedelta(days=100)
    body = dated({**placed, "team_id": team_b}, moved_at)
    await api.ok("PUT", f"/org/members/{member}", who, json=body)

    assert await occurred(api, f"region-{region}") == [("RegionDefined", t0)]
    assert await occurred(api, f"team-{team_b}") == [("TeamFormed", t0 + timedelta(days=2))]
    assert await occurred(api, f"member-{member}") == [
        ("MemberAssigned", t0 + timedelta(days=3)),
        ("MemberAssigned", moved_at),
    ]

    # a stream's business time never goes backwards
    before = await api.event_count()
    body = dated({**placed, "team_id": team_a}, moved_at - timedelta(days=1))
    r = await api.client.put(f"/org/members/{member}", json=body, headers=who)
    assert assert_problem(r, 422)["field"] == "occurred_at"
    assert await api.event_count() == before


async def test_the_importer_loads_an_account_its_transfer_and_a_grant_of_the_past(
    api: Api,
) -> None:
    await api.regions("east", "south")
    who, t0 = importer(api), api.clock.now() - timedelta(days=200)
    account = unique("acct")
    body = {"account_id": account, "name": "Acme", "owning_region": "east"}
    await api.ok("POST", "/accounts", who, 201, json=dated(body, t0))
    transfer = {"to_region": "south", "reason": "moved plant"}
    await api.ok(
        "POST", f"/accounts/{account}/transfer", who, json=dated(transfer, t0 + timedelta(days=10))
    )
    window = {
        "window_start": (t0 + timedelta(days=11)).isoformat(),
        "window_end": (t0 + timedelta(days=40)).isoformat(),
    }
    req = await api.ok(
        "POST",
        f"/accounts/{account}/contact-requests",
        who,
        201,
        json=dated({"purpose": "joint visit", **window}, t0 + timedelta(days=11)),
    )
    rid = req["request_id"]
    approved = await api.ok(
        "POST", f"/contact-requests/{rid}/approve", who, json=dated({}, t0 + timedelta(days=12))
    )

    assert approved["status"] == "approved"
    assert await occurred(api, f"account-{account}") == [
        ("AccountRegistered", t0),
        ("AccountOwnershipTransferred", t0 + timedelta(days=10)),
    ]
    assert [at for _, at in await occurred(api, f"contact-request-{rid}")] == [
        t0 + timedelta(days=11),
        t0 + timedelta(days=12),
    ]


async def test_members_may_not_date_collab_commands(api: Api) -> None:
    await api.regions("east")
    before = await api.event_count()
    body = {"account_id": unique("acct"), "name": "Acme", "owning_region": "east"}

    r = await api.client.post(
        "/accounts",
        json=dated(body, api.clock.now() - timedelta(days=1)),
        headers=api.manager("east"),
    )

    assert assert_problem(r, 422)["field"] == "occurred_at"
    assert await api.event_count() == before


async def test_the_importer_reads_nothing(api: Api) -> None:
    r = await api.client.get("/org/members", headers=importer(api))

    assert_problem(r, 403)
