"""Accounts (集团客户主档案): registration, master data, ownership transfer and who may do each."""

from __future__ import annotations

import pytest

from tests.integration.collab.conftest import Api, unique

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def regions(api: Api) -> None:
    await api.regions("east", "south", "north")


async def test_a_regional_manager_registers_an_account_of_their_region(api: Api) -> None:
    aid = unique("acct")
    body = {
        "account_id": aid,
        "name": "Acme Shanghai",
        "group_id": "acme-group",
        "industry": "machinery",
        "contact_emails": ["cto@acme.example"],
        "contact_phones": ["+86 21 5555 0100"],
    }
    r = await api.client.post("/accounts", json=body, headers=api.manager("east"))
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/accounts/{aid}" and r.headers["etag"] == '"1"'
    account = r.json()
    assert (account["owning_region"], account["group_id"]) == ("east", "acme-group")
    # keyed by the account, so its history stays ordered on one partition
    key = await api.scalar(
        "SELECT partition_key FROM events WHERE stream_id = :s", s=f"account-{aid}"
    )
    assert key == aid
    for reader in (api.rep("south"), api.as_("p", "partner", "x", "x")):
        got = await api.ok("GET", f"/accounts/{aid}", reader)
        assert got == account


@pytest.mark.parametrize(
    ("role", "region", "owning_region", "status"),
    [
        ("regional_manager", "east", "east", 201),
        ("admin", "hq", "east", 201),
        ("regional_manager", "south", "east", 403),
        ("supervisor", "east", "east", 403),
        ("rep", "east", "east", 403),
        ("partner", "east", "east", 403),
    ],
)
async def test_who_may_register(
    api: Api, role: str, region: str, owning_region: str, status: int
) -> None:
    before = await api.event_count()
    r = await api.client.post(
        "/accounts",
        json={"account_id": unique("acct"), "name": "X", "owning_region": owning_region},
        headers=api.as_("u", role, region, f"{region}-1"),
    )
    assert r.status_code == status, r.text
    assert await api.event_count() == before + (1 if status == 201 else 0)


async def test_registration_needs_a_defined_region_and_a_new_id(api: Api) -> None:
    before = await api.event_count()
    r = await api.client.post(
        "/accounts",
        json={"account_id": unique("a"), "name": "X", "owning_region": "atlantis"},
        headers=api.admin,
    )
    assert r.status_code == 422 and r.json()["field"] == "owning_region"
    assert await api.event_count() == before
    account = await api.account("east")
    twice = await api.client.post(
        "/accounts",
        json={"account_id": account["account_id"], "name": "Y", "owning_region": "east"},
        headers=api.manager("east"),
    )
    assert twice.status_code == 409


async def test_the_owning_region_updates_master_data_others_get_a_403_naming_the_owner(
    api: Api,
) -> None:
    account = await api.account("east", group_id="g1")
    url = f"/accounts/{account['account_id']}"
    new = {"name": "Acme East", "group_id": "g2", "contact_emails": ["buyer@acme.example"]}
    for refused in (api.rep("east"), api.supervisor("south"), api.manager("south")):
        r = await api.client.put(url, json=new, headers=refused)
        assert r.status_code == 403, r.text
        assert r.json()["owning_region"] == "east"
    updated = await api.ok("PUT", url, api.supervisor("east"), json=new)
    assert (updated["name"], updated["group_id"], updated["version"]) == ("Acme East", "g2", 2)
    assert await api.stream(f"account-{account['account_id']}") == [
        "AccountRegistered",
        "AccountMasterDataUpdated",
    ]
    before = await api.event_count()
    same = await api.ok("PUT", url, api.admin, json=new)
    assert same["version"] == 2, "an unchanged PUT records nothing"
    stale = await api.client.put(
        url, json=new | {"name": "Z"}, headers={**api.admin, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert await api.event_count() == before


async def test_only_the_owning_regional_manager_or_an_admin_transfers(api: Api) -> None:
    account = await api.account("east")
    url = f"/accounts/{account['account_id']}/transfer"
    move = {"to_region": "south", "reason": "the plant moved to Guangzhou"}
    for refused in (api.supervisor("east"), api.rep("east"), api.manager("south")):
        r = await api.client.post(url, json=move, headers=refused)
        assert r.status_code == 403, r.text
    assert (
        await api.client.post(url, json={**move, "to_region": "east"}, headers=api.admin)
    ).status_code == 422
    unknown = await api.client.post(url, json={**move, "to_region": "atlantis"}, headers=api.admin)
    assert unknown.status_code == 422 and unknown.json()["field"] == "to_region"

    moved = await api.ok("POST", url, api.manager("east"), json=move)
    assert (moved["owning_region"], moved["version"]) == ("south", 2)
    # the old owner lost the account, the new one has it
    edit = {"name": "Acme South"}
    r = await api.client.put(
        f"/accounts/{account['account_id']}", json=edit, headers=api.manager("east")
    )
    assert r.status_code == 403
    await api.ok("PUT", f"/accounts/{account['account_id']}", api.manager("south"), json=edit)


async def test_accounts_list_by_region_and_group_across_pages(api: Api) -> None:
    group = unique("grp")
    ids = [
        (await api.account(region, group_id=group))["account_id"]
        for region in ("east", "south", "east")
    ]
    everyone = api.rep("north")
    in_group = await api.ok("GET", "/accounts", everyone, params={"group_id": group})
    assert [a["account_id"] for a in in_group["items"]] == ids
    east = await api.ok("GET", "/accounts", everyone, params={"group_id": group, "region": "east"})
    assert [a["account_id"] for a in east["items"]] == [ids[0], ids[2]]
    first = await api.ok("GET", "/accounts", everyone, params={"group_id": group, "limit": 2})
    rest = await api.ok(
        "GET",
        "/accounts",
        everyone,
        params={"group_id": group, "limit": 2, "cursor": first["next_cursor"]},
    )
    assert [a["account_id"] for a in first["items"] + rest["items"]] == ids
    assert rest["next_cursor"] is None


async def test_a_repeated_idempotency_key_registers_once(api: Api) -> None:
    body = {"account_id": unique("acct"), "name": "X", "owning_region": "east"}
    headers = {**api.manager("east"), "Idempotency-Key": unique("k")}
    first = await api.client.post("/accounts", json=body, headers=headers)
    count = await api.event_count()
    again = await api.client.post("/accounts", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert await api.event_count() == count


async def test_unknown_accounts_are_404(api: Api) -> None:
    for method, url, body in (
        ("GET", "/accounts/ghost", None),
        ("PUT", "/accounts/ghost", {"name": "x"}),
        ("POST", "/accounts/ghost/transfer", {"to_region": "south", "reason": "x"}),
    ):
        r = await api.client.request(method, url, json=body, headers=api.admin)
        assert r.status_code == 404 and r.json()["type"].endswith("/account-not-found"), r.text
