"""The org directory: admins build it, every member reads it, references are checked."""

from __future__ import annotations

import pytest

from tests.integration.collab.conftest import Api, unique

pytestmark = pytest.mark.integration


async def test_an_admin_builds_the_directory_and_every_member_reads_it(api: Api) -> None:
    region = unique("reg")
    await api.ok(
        "POST",
        "/org/regions",
        api.admin,
        201,
        json={"region_id": region, "name": "East", "name_zh": "华东"},
    )
    team = await api.ok(
        "POST",
        "/org/teams",
        api.admin,
        201,
        json={"team_id": f"{region}-a", "region_id": region, "name": "Key accounts"},
    )
    assert (team["region_id"], team["version"]) == (region, 1)
    boss = {"member_id": unique("rm"), "name": "Li", "role": "regional_manager"}
    placed = {"region_id": region, "team_id": f"{region}-a"}
    await api.ok("POST", "/org/members", api.admin, 201, json={**boss, **placed})
    rep = {"member_id": unique("rep"), "name": "Wang", "role": "rep", "email": "wang@x.example"}
    created = await api.ok(
        "POST",
        "/org/members",
        api.admin,
        201,
        json={**rep, **placed, "manager_id": boss["member_id"]},
    )
    assert created["manager_id"] == boss["member_id"]

    reader = api.as_("partner-1", "partner", "nowhere", "none")  # any authenticated role reads
    regions = await api.ok("GET", "/org/regions", reader, params={"limit": 200})
    assert {"region_id": region, "name": "East", "name_zh": "华东"}.items() <= next(
        r for r in regions["items"] if r["region_id"] == region
    ).items()
    teams = await api.ok("GET", "/org/teams", reader, params={"region_id": region})
    assert [t["team_id"] for t in teams["items"]] == [f"{region}-a"]
    members = await api.ok("GET", "/org/members", reader, params={"region_id": region})
    assert [m["member_id"] for m in members["items"]] == [boss["member_id"], rep["member_id"]]
    reps = await api.ok("GET", "/org/members", reader, params={"region_id": region, "role": "rep"})
    assert [m["member_id"] for m in reps["items"]] == [rep["member_id"]]
    managed = await api.ok("GET", "/org/members", reader, params={"manager_id": boss["member_id"]})
    assert [m["member_id"] for m in managed["items"]] == [rep["member_id"]]
    one = await api.client.get(f"/org/members/{rep['member_id']}", headers=reader)
    assert one.status_code == 200 and one.headers["etag"] == '"1"'
    assert one.json()["email"] == "wang@x.example"


async def test_lists_are_cursor_paginated(api: Api) -> None:
    region = unique("reg")
    await api.regions(region)
    ids = []
    for i in range(5):
        ids.append(unique(f"m{i}"))
        body = {"member_id": ids[-1], "name": str(i), "role": "rep", "region_id": region}
        await api.ok(
            "POST", "/org/members", api.admin, 201, json={**body, "team_id": f"{region}-1"}
        )
    seen, cursor = [], None
    while True:
        params = {"region_id": region, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await api.ok("GET", "/org/members", api.rep("east"), params=params)
        seen += [m["member_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


@pytest.mark.parametrize("role", ["rep", "supervisor", "regional_manager", "partner"])
async def test_only_admins_write_the_directory(api: Api, role: str) -> None:
    region = unique("reg")
    await api.regions(region)
    who = api.as_("someone", role, region, f"{region}-1")
    before = await api.event_count()
    writes = [
        ("POST", "/org/regions", {"region_id": unique("r"), "name": "X"}),
        ("POST", "/org/teams", {"team_id": unique("t"), "region_id": region, "name": "X"}),
        (
            "POST",
            "/org/members",
            {
                "member_id": unique("m"),
                "name": "X",
                "role": "rep",
                "region_id": region,
                "team_id": f"{region}-1",
            },
        ),
    ]
    for method, url, body in writes:
        r = await api.client.request(method, url, json=body, headers=who)
        assert r.status_code == 403, r.text
        assert r.json()["type"].endswith("/not-permitted")
    assert await api.event_count() == before


async def test_references_must_exist_and_fit(api: Api) -> None:
    east, south = unique("east"), unique("south")
    await api.regions(east, south)
    before = await api.event_count()
    bad = [
        ("/org/teams", {"team_id": unique("t"), "region_id": "atlantis", "name": "X"}, "region_id"),
        (
            "/org/members",
            {
                "member_id": unique("m"),
                "name": "X",
                "role": "rep",
                "region_id": east,
                "team_id": "nope",
            },
            "team_id",
        ),
        (  # the team lies in another region than the member
            "/org/members",
            {
                "member_id": unique("m"),
                "name": "X",
                "role": "rep",
                "region_id": east,
                "team_id": f"{south}-1",
            },
            "team_id",
        ),
        (
            "/org/members",
            {
                "member_id": unique("m"),
                "name": "X",
                "role": "rep",
                "region_id": east,
                "team_id": f"{east}-1",
                "manager_id": "ghost",
            },
            "manager_id",
        ),
    ]
    for url, body, field in bad:
        r = await api.client.post(url, json=body, headers=api.admin)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
    me = unique("m")
    r = await api.client.post(
        "/org/members",
        json={
            "member_id": me,
            "name": "X",
            "role": "rep",
            "region_id": east,
            "team_id": f"{east}-1",
            "manager_id": me,
        },
        headers=api.admin,
    )
    assert r.status_code == 422 and r.json()["field"] == "manager_id"
    assert await api.event_count() == before


async def test_re_assigning_a_member_appends_member_assigned_again(api: Api) -> None:
    east, south = unique("east"), unique("south")
    await api.regions(east, south)
    mid = unique("m")
    body = {"name": "Zhao", "role": "rep", "region_id": east, "team_id": f"{east}-1"}
    await api.ok("POST", "/org/members", api.admin, 201, json={"member_id": mid, **body})
    moved = {**body, "role": "supervisor", "region_id": south, "team_id": f"{south}-1"}
    r = await api.client.put(f"/org/members/{mid}", json=moved, headers=api.admin)
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    assert (r.json()["role"], r.json()["region_id"]) == ("supervisor", south)
    assert await api.stream(f"member-{mid}") == ["MemberAssigned", "MemberAssigned"]

    before = await api.event_count()
    same = await api.client.put(f"/org/members/{mid}", json=moved, headers=api.admin)
    assert same.status_code == 200 and same.json()["version"] == 2, "no change, no event"
    stale = await api.client.put(
        f"/org/members/{mid}", json=body, headers={**api.admin, "If-Match": '"1"'}
    )
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert await api.event_count() == before


async def test_duplicates_are_409_and_unknown_members_404(api: Api) -> None:
    region = unique("reg")
    await api.regions(region)
    again = await api.client.post(
        "/org/regions", json={"region_id": region, "name": "Again"}, headers=api.admin
    )
    assert again.status_code == 409 and again.json()["type"].endswith("/already-exists")
    body = {"name": "X", "role": "rep", "region_id": region, "team_id": f"{region}-1"}
    r = await api.client.put("/org/members/ghost", json=body, headers=api.admin)
    assert r.status_code == 404 and r.json()["type"].endswith("/member-not-found")
    assert (await api.client.get("/org/members/ghost", headers=api.rep("east"))).status_code == 404
