"""Ownership follows the account everywhere: list view, gate, internal notes, collaborator answers;
reassignment goes to a known member of the deal's region only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.collab import AccountOwnershipTransferred, ContactApproved
from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration
SOUTH_RM = {"sub": "rm-s", "role": "regional_manager", "region": "south", "team": "s-1"}
EAST_REP = {"sub": "rep-1", "region": "east", "team": "east-1"}
LEAD_CONTACT = "activity:call|email|visit|meeting|interview"


def transfer(account_id: str, to_region: str = "south") -> AccountOwnershipTransferred:
    return AccountOwnershipTransferred(
        occurred_at=datetime.now(UTC),
        account_id=account_id,
        from_region="east",
        to_region=to_region,
        reason="HQ moved",
        actor_id="admin",
    )


def grant(account_id: str, member: str, region: str, owner: str) -> ContactApproved:
    now = datetime.now(UTC)
    return ContactApproved(
        occurred_at=now,
        request_id=f"req-{member}-{account_id}",
        account_id=account_id,
        owning_region=owner,
        requester_id=member,
        requester_region=region,
        approved_by="sup",
        valid_from=now - timedelta(hours=1),
        valid_until=now + timedelta(hours=2),
    )


async def listed(api: Api, who: dict[str, str]) -> list[dict[str, Any]]:
    r = await api.client.get("/opportunities", headers=api.as_(**who))
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def gate_codes(api: Api, opp_id: str, who: dict[str, str]) -> list[str]:
    r = await api.client.get(f"/opportunities/{opp_id}", headers=api.as_(**who))
    assert r.status_code == 200, r.text
    return [m["code"] for m in r.json()["gate"]["missing"]]


async def log(api: Api, opp_id: str, who: dict[str, str], kind: str = "call") -> Any:
    return await api.client.post(
        f"/opportunities/{opp_id}/activities", json={"kind": kind}, headers=api.as_(**who)
    )


async def test_a_transfer_moves_the_deal_s_list_row_to_the_new_region(api: Api) -> None:
    opp = await api.open(account_id="acme-list")
    assert [o["id"] for o in await listed(api, EAST_REP)] == [opp["id"]]
    await api.feed(transfer("acme-list"), "acme-list")
    assert await listed(api, EAST_REP) == [], "the old region no longer lists the deal"
    rows = await listed(api, SOUTH_RM)
    assert [(o["id"], o["region"]) for o in rows] == [(opp["id"], "south")]
    # the next command keeps the row in the new region
    assert (await log(api, opp["id"], SOUTH_RM)).status_code == 200
    assert [o["region"] for o in await listed(api, SOUTH_RM)] == ["south"]
    assert await listed(api, EAST_REP) == []


async def test_after_a_transfer_the_new_owner_s_contact_opens_the_gate(api: Api) -> None:
    opp = await api.open(account_id="acme-gate")
    await api.feed(transfer("acme-gate"), "acme-gate")
    assert (await log(api, opp["id"], SOUTH_RM)).status_code == 200
    assert LEAD_CONTACT not in await gate_codes(api, opp["id"], SOUTH_RM)
    r = await api.client.post(f"/opportunities/{opp['id']}/advance", headers=api.as_(**SOUTH_RM))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "initial_contact"


async def test_contacts_made_by_the_owning_region_before_a_transfer_still_count(api: Api) -> None:
    opp = await api.open(account_id="acme-before")
    assert (await log(api, opp["id"], EAST_REP)).status_code == 200
    await api.feed(transfer("acme-before"), "acme-before")
    assert LEAD_CONTACT not in await gate_codes(api, opp["id"], SOUTH_RM)


async def test_after_a_transfer_the_new_region_files_internal_notes(api: Api) -> None:
    opp = await api.open(account_id="acme-note")
    await api.feed(transfer("acme-note"), "acme-note")
    assert (await log(api, opp["id"], SOUTH_RM, kind="note")).status_code == 200


async def test_an_old_region_collaborator_is_judged_against_the_new_owner(api: Api) -> None:
    opp = await api.open(account_id="acme-collab")
    await api.feed(transfer("acme-collab"), "acme-collab")
    await api.feed(grant("acme-collab", "rep-1", "east", "south"), "acme-collab")
    r = await log(api, opp["id"], EAST_REP)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": opp["id"],
        "account_id": "acme-collab",
        "region": "south",
        "version": 2,
    }, "a collaborator learns that the contact is on record, not the deal"
    assert LEAD_CONTACT in await gate_codes(api, opp["id"], SOUTH_RM), (
        "a contact by the former owner's member does not open the new owner's gate"
    )
    assert (await log(api, opp["id"], EAST_REP, kind="note")).status_code == 403


async def test_reassign_goes_only_to_a_known_member_of_the_deal_s_region(api: Api) -> None:
    opp = await api.open(account_id="acme-re")
    url = f"/opportunities/{opp['id']}/reassign"
    sup = api.as_(sub="sup-1", role="supervisor")
    before = await api.event_count()

    unknown = await api.client.post(url, json={"to_owner": "ghost"}, headers=sup)
    assert unknown.status_code == 409
    assert unknown.json()["type"].endswith("member-not-yet-known")
    assert "retry" in unknown.json()["detail"]

    await api.know_member("rep-s9", "south", "s-1")
    other = await api.client.post(url, json={"to_owner": "rep-s9"}, headers=sup)
    assert other.status_code == 422 and other.json()["field"] == "to_owner"

    await api.know_member("rep-7", "east", "east-2")
    wrong_team = await api.client.post(
        url, json={"to_owner": "rep-7", "team": "east-1"}, headers=sup
    )
    assert wrong_team.status_code == 422 and wrong_team.json()["field"] == "team"
    assert await api.event_count() == before, "refusals change nothing"

    admin = api.as_(sub="admin", role="admin", region="hq", team="hq")
    ok = await api.client.post(url, json={"to_owner": "rep-7"}, headers=admin)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["owner_id"], ok.json()["team"]) == ("rep-7", "east-2")


async def test_after_a_transfer_reassign_goes_to_the_new_region_s_members(api: Api) -> None:
    opp = await api.open(account_id="acme-re2")
    await api.feed(transfer("acme-re2"), "acme-re2")
    await api.know_member("rep-2", "east", "east-1")
    await api.know_member("rep-s2", "south", "s-2")
    url = f"/opportunities/{opp['id']}/reassign"
    south = api.as_(**SOUTH_RM)
    assert (
        await api.client.post(url, json={"to_owner": "rep-2"}, headers=south)
    ).status_code == 422
    moved = await api.client.post(url, json={"to_owner": "rep-s2"}, headers=south)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["region"], moved.json()["team"]) == ("south", "s-2")
