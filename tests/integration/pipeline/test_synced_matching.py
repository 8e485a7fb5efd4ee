"""Synced logs are matched on the account master data of record and cannot be steered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.collab import AccountMasterDataUpdated
from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration
SOUTH_REP = {"sub": "rep-s", "region": "south", "team": "s-1"}
PHONE = "+86 21 5555 0199"


def partner(api: Api) -> dict[str, str]:
    return api.as_(sub="pbx", role="partner", region="hq", team="integrations")


async def ingest(api: Api, external_id: str, contact: str, actor: str, region: str) -> Any:
    log = {
        "external_id": external_id,
        "channel": "phone",
        "contact": contact,
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor_id": actor,
        "actor_region": region,
    }
    r = await api.client.post("/ingest/activities", json={"logs": [log]}, headers=partner(api))
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


async def synced(api: Api, opp_id: str) -> list[dict[str, Any]]:
    admin = api.as_(sub="admin", role="admin", region="hq", team="hq")
    r = await api.client.get(f"/opportunities/{opp_id}/history", headers=admin)
    return [i["data"] for i in r.json()["items"] if i["type"] == "ActivityLogged"]


async def steer(api: Api, south_opp: str) -> None:
    """The South rep maps the East customer's phone as a stakeholder on his own deal."""
    r = await api.client.post(
        f"/opportunities/{south_opp}/stakeholders",
        json={"name": "Mr. Qian", "role": "champion", "phone": PHONE},
        headers=api.as_(**SOUTH_REP),
    )
    assert r.status_code == 200, r.text


async def test_a_stakeholder_on_another_region_s_deal_does_not_outrank_the_owning_account(
    api: Api,
) -> None:
    east = await api.open(account_id="east-cust")
    await api.know_account("east-cust", "east", contacts=(PHONE,))
    south = await api.open(api.as_(**SOUTH_REP), region="south", account_id="south-cust")
    await steer(api, south["id"])

    result = await ingest(api, "pbx-1", "+86-21-5555-0199", "rep-s", "south")
    assert (result["status"], result["opportunity_id"]) == ("created", east["id"])
    assert [(d["actor_region"], d["owning_region"]) for d in await synced(api, east["id"])] == [
        ("south", "east")
    ], "the call lands on the East deal, where collab judges it a cross-region contact"
    assert await synced(api, south["id"]) == []
    got = await api.client.get(f"/opportunities/{south['id']}", headers=api.as_(**SOUTH_REP))
    assert got.json()["gate"]["ready"] is False, "the steered call does not open his own gate"


async def test_a_steered_contact_of_an_account_without_open_deals_lands_nowhere(
    api: Api,
) -> None:
    await api.know_account("east-quiet", "east", contacts=(PHONE,))
    south = await api.open(api.as_(**SOUTH_REP), region="south", account_id="south-quiet")
    await steer(api, south["id"])
    result = await ingest(api, "pbx-2", PHONE, "rep-s", "south")
    assert result["status"] == "unmatched"
    assert await synced(api, south["id"]) == []


async def test_contacts_dropped_from_master_data_stop_matching(api: Api) -> None:
    opp = await api.open(account_id="acme-md")
    await api.know_account("acme-md", "east", contacts=("old@acme.example",))
    assert (await ingest(api, "m-1", "old@acme.example", "rep-1", "east"))["status"] == "created"
    await api.feed(
        AccountMasterDataUpdated(
            occurred_at=datetime.now(UTC) + timedelta(seconds=1),
            account_id="acme-md",
            name="Acme",
            owning_region="east",
            contact_emails=["new@acme.example"],
            actor_id="admin",
        ),
        "acme-md",
    )
    assert (await ingest(api, "m-2", "old@acme.example", "rep-1", "east"))["status"] == "unmatched"
    fresh = await ingest(api, "m-3", "NEW@acme.example", "rep-1", "east")
    assert (fresh["status"], fresh["opportunity_id"]) == ("created", opp["id"])


async def test_a_late_master_data_update_replaces_nothing(api: Api) -> None:
    opp = await api.open(account_id="acme-late")
    await api.know_account("acme-late", "east", contacts=("cur@acme.example",))
    await api.feed(
        AccountMasterDataUpdated(
            occurred_at=datetime.now(UTC) - timedelta(days=1),
            account_id="acme-late",
            name="Acme",
            owning_region="east",
            contact_emails=["stale@acme.example"],
            actor_id="admin",
        ),
        "acme-late",
    )
    assert (await ingest(api, "l-1", "stale@acme.example", "rep-1", "east"))["status"] == (
        "unmatched"
    )
    current = await ingest(api, "l-2", "cur@acme.example", "rep-1", "east")
    assert current["opportunity_id"] == opp["id"]


async def test_a_contact_of_accounts_in_several_regions_names_every_one(api: Api) -> None:
    shared_phone = "+86 10 8888 0001"
    await api.open(account_id="grp-east")
    await api.know_account("grp-east", "east", contacts=(shared_phone,))
    south = await api.open(api.as_(**SOUTH_REP), region="south", account_id="grp-south")
    await api.know_account("grp-south", "south", contacts=(shared_phone,))
    result = await ingest(api, "g-1", shared_phone, "rep-s", "south")
    assert result["opportunity_id"] == south["id"], "the newest deal reached takes the log"
    [logged] = await synced(api, south["id"])
    assert logged["matched_accounts"] == ["grp-east"], (
        "collab judges the call against the East account too"
    )
