"""Idempotency keys, If-Match, concurrent writers, permissions, playbook versions, lists."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration


async def test_a_repeated_idempotency_key_returns_the_first_answer_and_appends_nothing(
    api: Api,
) -> None:
    opp = await api.open()
    headers = {**api.as_(), "Idempotency-Key": "call-2026-11-26-001"}
    url = f"/opportunities/{opp['id']}/activities"
    first = await api.client.post(url, json={"kind": "call"}, headers=headers)
    count = await api.event_count()
    again = await api.client.post(url, json={"kind": "call"}, headers=headers)
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await api.event_count() == count
    other = await api.client.post(url, json={"kind": "visit"}, headers=headers)
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")


async def test_concurrent_twins_with_one_idempotency_key_append_once(api: Api) -> None:
    opp = await api.open()
    before = await api.event_count()
    headers = {**api.as_(), "Idempotency-Key": "twin"}
    url = f"/opportunities/{opp['id']}/activities"
    answers = await asyncio.gather(
        *(api.client.post(url, json={"kind": "call"}, headers=headers) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["version"] for a in answers}) == 1
    assert await api.event_count() == before + 1


async def test_a_refused_gate_is_replayed_under_its_idempotency_key(api: Api) -> None:
    opp = await api.open()
    headers = {**api.as_(), "Idempotency-Key": "advance-1"}
    first = await api.client.post(f"/opportunities/{opp['id']}/advance", headers=headers)
    count = await api.event_count()
    again = await api.client.post(f"/opportunities/{opp['id']}/advance", headers=headers)
    assert first.status_code == again.status_code == 409
    assert again.json()["missing"] == first.json()["missing"]
    assert await api.event_count() == count


async def test_if_match_with_a_stale_version_is_412_and_changes_nothing(api: Api) -> None:
    opp = await api.open()
    url = f"/opportunities/{opp['id']}/activities"
    ok = await api.client.post(url, json={"kind": "call"}, headers={**api.as_(), "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    before = await api.event_count()
    stale = await api.client.post(
        url, json={"kind": "call"}, headers={**api.as_(), "If-Match": '"1"'}
    )
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert await api.event_count() == before
    bad = await api.client.post(
        url, json={"kind": "call"}, headers={**api.as_(), "If-Match": "soon"}
    )
    assert bad.status_code == 422


async def test_concurrent_commands_on_one_deal_all_land_with_distinct_versions(api: Api) -> None:
    opp = await api.open()
    url = f"/opportunities/{opp['id']}/activities"
    answers = await asyncio.gather(
        *(
            api.client.post(url, json={"kind": "call", "summary": str(i)}, headers=api.as_())
            for i in range(12)
        )
    )
    assert [a.status_code for a in answers].count(200) + [a.status_code for a in answers].count(
        409
    ) == 12
    landed = [a for a in answers if a.status_code == 200]
    assert len({a.json()["version"] for a in landed}) == len(landed)
    history = (
        await api.client.get(f"/opportunities/{opp['id']}/history", headers=api.as_())
    ).json()
    assert [i["version"] for i in history["items"]] == list(range(1, len(landed) + 2))


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ({"sub": "rep-1"}, True),
        ({"sub": "rep-2"}, False),
        ({"sub": "sup-1", "role": "supervisor"}, True),
        ({"sub": "sup-9", "role": "supervisor", "team": "east-2"}, False),
        ({"sub": "rm-1", "role": "regional_manager", "team": "east-9"}, True),
        ({"sub": "rm-s", "role": "regional_manager", "region": "south", "team": "s-1"}, False),
        ({"sub": "rep-s", "region": "south", "team": "s-1"}, False),
        ({"sub": "p-1", "role": "partner"}, False),
        ({"sub": "admin", "role": "admin", "region": "hq", "team": "hq"}, True),
    ],
)
async def test_who_may_log_on_a_rep_s_deal(api: Api, who: dict[str, str], allowed: bool) -> None:
    opp = await api.open()
    before = await api.event_count()
    r = await api.client.post(
        f"/opportunities/{opp['id']}/activities", json={"kind": "call"}, headers=api.as_(**who)
    )
    assert r.status_code == (200 if allowed else 403), r.text
    assert await api.event_count() == before + (1 if allowed else 0)


async def test_other_regions_cannot_read_or_list_a_region_s_deals(api: Api) -> None:
    opp = await api.open()
    south = api.as_(sub="rep-s", region="south", team="s-1")
    assert (await api.client.get(f"/opportunities/{opp['id']}", headers=south)).status_code == 403
    assert (await api.client.get("/opportunities?region=east", headers=south)).status_code == 403
    listed = (await api.client.get("/opportunities", headers=south)).json()
    assert listed["items"] == []


async def test_a_rep_cannot_open_for_someone_else_nor_reassign(api: Api) -> None:
    await api.know_account("a")
    r = await api.client.post(
        "/opportunities",
        json={
            "account_id": "a",
            "title": "t",
            "amount": "1",
            "expected_close_date": "2027-01-01",
            "owner_id": "rep-2",
        },
        headers=api.as_(),
    )
    assert r.status_code == 403
    opp = await api.open()
    r = await api.client.post(
        f"/opportunities/{opp['id']}/reassign", json={"to_owner": "rep-2"}, headers=api.as_()
    )
    assert r.status_code == 403
    sup = api.as_(sub="sup-1", role="supervisor")
    await api.know_member("rep-2", "east", "east-1")
    r = await api.client.post(
        f"/opportunities/{opp['id']}/reassign", json={"to_owner": "rep-2"}, headers=sup
    )
    assert r.status_code == 200 and r.json()["owner_id"] == "rep-2"
    r = await api.client.post(
        f"/opportunities/{opp['id']}/activities", json={"kind": "call"}, headers=api.as_()
    )
    assert r.status_code == 403, "the former owner no longer acts on it"


async def test_lost_deals_are_closed_for_good(api: Api) -> None:
    opp = await api.open()
    url = f"/opportunities/{opp['id']}"
    lost = await api.client.post(
        f"{url}/close", json={"outcome": "lost", "reason": "budget cut"}, headers=api.as_()
    )
    assert lost.status_code == 200 and lost.json()["status"] == "lost"
    again = await api.client.post(f"{url}/activities", json={"kind": "call"}, headers=api.as_())
    assert again.status_code == 409 and again.json()["type"].endswith("opportunity-closed")


async def test_lists_filter_and_paginate_with_a_cursor(api: Api) -> None:
    ids = [(await api.open(title=f"deal {i}", account_id=f"acct-{i % 2}"))["id"] for i in range(5)]
    page = (await api.client.get("/opportunities?limit=2", headers=api.as_())).json()
    seen = [o["id"] for o in page["items"]]
    while page["next_cursor"]:
        page = (
            await api.client.get(
                f"/opportunities?limit=2&cursor={page['next_cursor']}", headers=api.as_()
            )
        ).json()
        seen += [o["id"] for o in page["items"]]
    assert seen == ids
    acct = (await api.client.get("/opportunities?account_id=acct-1", headers=api.as_())).json()
    assert [o["id"] for o in acct["items"]] == [ids[1], ids[3]]
    assert (await api.client.get("/opportunities?stage=closing", headers=api.as_())).json()[
        "items"
    ] == []


async def test_only_admins_publish_playbooks_and_gates_follow_the_new_version(api: Api) -> None:
    current = (await api.client.get("/playbook", headers=api.as_())).json()
    assert current["version"] == 1
    definition = current["definition"]
    definition["stages"][0]["exit"] = []  # leaving lead no longer needs contact
    assert (
        await api.client.put("/playbook", json=definition, headers=api.as_())
    ).status_code == 403
    admin = api.as_(sub="admin", role="admin", region="hq", team="hq")
    published = await api.client.put(
        "/playbook", json=definition, headers={**admin, "If-Match": '"1"'}
    )
    assert published.status_code == 200 and published.json()["version"] == 2
    stale = await api.client.put("/playbook", json=definition, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412
    opp = await api.open()
    assert (
        await api.client.post(f"/opportunities/{opp['id']}/advance", headers=api.as_())
    ).status_code == 200


async def test_a_playbook_that_strands_open_deals_or_is_inconsistent_is_refused(api: Api) -> None:
    admin = api.as_(sub="admin", role="admin", region="hq", team="hq")
    definition = (await api.client.get("/playbook", headers=admin)).json()["definition"]
    opp = await api.open()
    await api.client.post(
        f"/opportunities/{opp['id']}/activities", json={"kind": "call"}, headers=api.as_()
    )
    await api.client.post(f"/opportunities/{opp['id']}/advance", headers=api.as_())
    dropped = {
        **definition,
        "stages": [s for s in definition["stages"] if s["key"] != "initial_contact"],
    }
    r = await api.client.put("/playbook", json=dropped, headers=admin)
    assert r.status_code == 409 and r.json()["stages"] == ["initial_contact"]
    broken = {**definition}
    broken["stages"] = [*definition["stages"]]
    broken["stages"][1] = {
        **broken["stages"][1],
        "exit": [{"type": "artifact", "artifact": "nonexistent"}],
    }
    r = await api.client.put("/playbook", json=broken, headers=admin)
    assert r.status_code == 422
    assert (await api.client.get("/playbook", headers=admin)).json()["version"] == 1


async def test_a_deal_opened_for_someone_else_goes_to_a_known_member_of_its_region(
    api: Api,
) -> None:
    await api.know_account("acme-for")
    sup = api.as_(sub="sup-1", role="supervisor")
    body = {
        "account_id": "acme-for",
        "title": "for a colleague",
        "amount": "1",
        "expected_close_date": "2027-01-01",
        "owner_id": "rep-7",
    }
    before = await api.event_count()
    r = await api.client.post("/opportunities", json=body, headers=sup)
    assert r.status_code == 409 and r.json()["member_id"] == "rep-7"
    await api.know_member("rep-7", "south", "south-1")
    r = await api.client.post("/opportunities", json=body, headers=sup)
    assert r.status_code == 422 and r.json()["field"] == "owner_id"
    await api.know_member("rep-7", "east", "east-1")
    r = await api.client.post("/opportunities", json={**body, "team": "east-2"}, headers=sup)
    assert r.status_code == 422 and r.json()["field"] == "team"
    assert await api.event_count() == before
    r = await api.client.post("/opportunities", json=body, headers=sup)
    assert r.status_code == 201, r.text
    assert (r.json()["owner_id"], r.json()["team"]) == ("rep-7", "east-1")
