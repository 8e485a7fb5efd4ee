"""Region isolation on every write path, collaboration grants, and activity sync from logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts.collab import (
    AccountOwnershipTransferred,
    ContactApproved,
    ContactGrantExpired,
)
from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration
SOUTH_REP = {"sub": "rep-s", "region": "south", "team": "s-1"}


def now() -> datetime:
    return datetime.now(UTC)


def approval(
    request_id: str, account: str, hours: float = 2, starts_in: float = -1
) -> ContactApproved:
    return ContactApproved(
        occurred_at=now(),
        request_id=request_id,
        account_id=account,
        owning_region="east",
        requester_id="rep-s",
        requester_region="south",
        approved_by="sup-1",
        valid_from=now() + timedelta(hours=starts_in),
        valid_until=now() + timedelta(hours=hours),
    )


def expiry(request_id: str, account: str) -> ContactGrantExpired:
    return ContactGrantExpired(
        occurred_at=now(),
        request_id=request_id,
        account_id=account,
        owning_region="east",
        requester_id="rep-s",
        requester_region="south",
        expired_at=now(),
    )


async def log_call(api: Api, opp_id: str, who: dict[str, str]) -> int:
    r = await api.client.post(
        f"/opportunities/{opp_id}/activities", json={"kind": "call"}, headers=api.as_(**who)
    )
    return r.status_code


async def test_an_unknown_account_is_refused_until_its_ownership_arrives(api: Api) -> None:
    body = {
        "account_id": "late-acct",
        "title": "t",
        "amount": "1",
        "expected_close_date": "2027-01-01",
    }
    before = await api.event_count()
    r = await api.client.post("/opportunities", json=body, headers=api.as_())
    assert r.status_code == 409
    assert r.json()["type"].endswith("account-not-yet-known")
    assert "retry" in r.json()["detail"]
    assert await api.event_count() == before
    await api.know_account("late-acct", "east")
    assert (
        await api.client.post("/opportunities", json=body, headers=api.as_())
    ).status_code == 201


async def test_another_region_cannot_open_on_an_account_and_is_told_how_to_ask(api: Api) -> None:
    await api.know_account("acme-east", "east")
    body = {
        "account_id": "acme-east",
        "title": "t",
        "amount": "1",
        "expected_close_date": "2027-01-01",
    }
    r = await api.client.post("/opportunities", json=body, headers=api.as_(**SOUTH_REP))
    assert r.status_code == 403
    problem = r.json()
    assert problem["owning_region"] == "east"
    assert "/accounts/acme-east/contact-requests" in problem["request_contact"]


async def test_a_grant_lets_another_region_log_contact_but_never_advance(api: Api) -> None:
    opp = await api.open(account_id="acme-g")
    oid = opp["id"]
    assert await log_call(api, oid, SOUTH_REP) == 403
    await api.feed(approval("req-1", "acme-g"), "acme-g")
    assert await log_call(api, oid, SOUTH_REP) == 200
    south = api.as_(**SOUTH_REP)
    assert (
        await api.client.post(f"/opportunities/{oid}/advance", headers=south)
    ).status_code == 403
    art = {"kind": "requirement_checklist", "fields": {"business_goals": ["x"], "scope": "y"}}
    assert (
        await api.client.post(f"/opportunities/{oid}/artifacts", json=art, headers=south)
    ).status_code == 403
    await api.feed(expiry("req-1", "acme-g"), "acme-g")
    assert await log_call(api, oid, SOUTH_REP) == 403
    await api.feed(approval("req-1", "acme-g", hours=48), "acme-g")  # a redelivered approval
    assert await log_call(api, oid, SOUTH_REP) == 403, "an expired grant is never revived"


async def test_a_grant_not_yet_started_does_not_allow_contact(api: Api) -> None:
    opp = await api.open(account_id="acme-f")
    await api.feed(approval("req-2", "acme-f", hours=5, starts_in=2), "acme-f")
    assert await log_call(api, opp["id"], SOUTH_REP) == 403


async def test_after_a_transfer_the_new_owning_region_acts_and_the_old_one_does_not(
    api: Api,
) -> None:
    opp = await api.open(account_id="acme-t")
    await api.feed(
        AccountOwnershipTransferred(
            occurred_at=now(),
            account_id="acme-t",
            from_region="east",
            to_region="south",
            reason="HQ moved",
            actor_id="admin",
        ),
        "acme-t",
    )
    south_rm = {"sub": "rm-s", "role": "regional_manager", "region": "south", "team": "s-1"}
    assert await log_call(api, opp["id"], south_rm) == 200
    east_rm = {"sub": "rm-e", "role": "regional_manager", "region": "east", "team": "e-9"}
    assert await log_call(api, opp["id"], east_rm) == 403


async def test_synced_logs_match_by_contact_are_idempotent_and_break_no_history(api: Api) -> None:
    opp = await api.open(account_id="acme-sync")
    await api.client.post(
        f"/opportunities/{opp['id']}/stakeholders",
        json={
            "name": "Eng. Zhao",
            "role": "technical_evaluator",
            "email": "Zhao@Acme.example",
            "phone": "+86 21 5555 0101",
        },
        headers=api.as_(),
    )
    partner = api.as_(sub="mail-sync", role="partner", region="hq", team="integrations")
    logs = {
        "logs": [
            {
                "external_id": "mail-1",
                "channel": "email",
                "contact": "zhao@acme.example",
                "occurred_at": now().isoformat(),
                "actor_id": "rep-1",
                "actor_region": "east",
                "summary": "spec questions",
            },
            {
                "external_id": "call-9",
                "channel": "phone",
                "contact": "+86-21-5555-0101",
                "occurred_at": now().isoformat(),
                "actor_id": "rep-s",
                "actor_region": "south",
                "summary": "cold call",
            },
            {
                "external_id": "mail-2",
                "channel": "email",
                "contact": "nobody@else.example",
                "occurred_at": now().isoformat(),
                "actor_id": "rep-1",
                "actor_region": "east",
            },
        ]
    }
    first = await api.client.post("/ingest/activities", json=logs, headers=partner)
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == ["created", "created", "unmatched"]
    count = await api.event_count()
    again = await api.client.post("/ingest/activities", json=logs, headers=partner)
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate", "unmatched"]
    assert again.json()["results"][0]["activity_id"] == first.json()["results"][0]["activity_id"]
    assert await api.event_count() == count
    history = (
        await api.client.get(f"/opportunities/{opp['id']}/history", headers=api.as_())
    ).json()
    synced = [i["data"] for i in history["items"] if i["type"] == "ActivityLogged"]
    assert [(d["source"], d["actor_region"]) for d in synced] == [
        ("email_sync", "east"),
        ("phone_sync", "south"),
    ]
    assert (
        await api.client.post("/ingest/activities", json=logs, headers=api.as_())
    ).status_code == 403


async def test_a_granted_collaborator_sees_only_that_the_contact_was_recorded(api: Api) -> None:
    opp = await api.open(account_id="acme-v")
    await api.feed(approval("req-v", "acme-v"), "acme-v")
    r = await api.client.post(
        f"/opportunities/{opp['id']}/activities",
        json={"kind": "call"},
        headers=api.as_(**SOUTH_REP),
    )
    assert r.status_code == 200
    assert set(r.json()) == {"id", "account_id", "region", "version"}
    assert (
        await api.client.get(f"/opportunities/{opp['id']}", headers=api.as_(**SOUTH_REP))
    ).status_code == 403


async def test_a_collaborator_cannot_file_internal_notes_nor_move_the_deal(api: Api) -> None:
    opp = await api.open(account_id="acme-n")
    await api.feed(approval("req-n", "acme-n"), "acme-n")
    south = api.as_(**SOUTH_REP)
    note = await api.client.post(
        f"/opportunities/{opp['id']}/activities", json={"kind": "note"}, headers=south
    )
    assert note.status_code == 403
    call = await api.client.post(
        f"/opportunities/{opp['id']}/activities", json={"kind": "call"}, headers=south
    )
    assert call.status_code == 200
    got = (await api.client.get(f"/opportunities/{opp['id']}", headers=api.as_())).json()
    assert got["gate"]["ready"] is False, (
        "another region's call does not satisfy the owning region's gate"
    )


async def test_after_a_transfer_reads_follow_the_new_owner(api: Api) -> None:
    opp = await api.open(account_id="acme-r")
    await api.feed(
        AccountOwnershipTransferred(
            occurred_at=now(),
            account_id="acme-r",
            from_region="east",
            to_region="south",
            reason="HQ moved",
            actor_id="admin",
        ),
        "acme-r",
    )
    south = api.as_(**SOUTH_REP)
    assert (await api.client.get(f"/opportunities/{opp['id']}", headers=south)).status_code == 200
    assert (
        await api.client.get(f"/opportunities/{opp['id']}/history", headers=south)
    ).status_code == 200
    assert (
        await api.client.get(f"/opportunities/{opp['id']}", headers=api.as_())
    ).status_code == 403
