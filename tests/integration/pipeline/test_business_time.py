"""Business time over REST: the importer loads dated history; members backdate activities only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration

YEAR_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(days=365)


def importer(api: Api) -> dict[str, str]:
    return api.as_(sub="crm-import", role="importer", region="hq", team="integrations")


async def post(api: Api, path: str, body: dict[str, Any], who: dict[str, str]) -> Any:
    return await api.client.post(path, json=body, headers=who)


async def history(api: Api, opp_id: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/opportunities/{opp_id}/history", headers=api.as_())
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def open_dated(api: Api, who: dict[str, str], at: datetime) -> str:
    """Open a deal of rep-1 (east) at business time `at`, as an admin or the importer."""
    await api.know_account("acme-history", "east")
    await api.know_member("rep-1", "east", "east-1")
    body = {
        "account_id": "acme-history",
        "title": "Acme — history",
        "amount": "500000",
        "expected_close_date": "2026-06-30",
        "owner_id": "rep-1",
        "region": "east",
        "team": "east-1",
        "occurred_at": at.isoformat(),
    }
    r = await post(api, "/opportunities", body, who)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def problem_field(r: Any) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    return str(body.get("field") or ",".join(e["field"] for e in body.get("errors", [])))


async def test_the_importer_loads_a_deal_history_a_year_back(api: Api) -> None:
    who = importer(api)
    oid = await open_dated(api, who, YEAR_AGO)
    call_at = YEAR_AGO + timedelta(days=2)
    advanced_at = YEAR_AGO + timedelta(days=20)
    lost_at = YEAR_AGO + timedelta(days=50)

    steps = [
        (f"/opportunities/{oid}/activities", {"kind": "call", "occurred_at": call_at}),
        (f"/opportunities/{oid}/advance", {"occurred_at": advanced_at}),
        (
            f"/opportunities/{oid}/close",
            {"outcome": "lost", "reason": "budget", "occurred_at": lost_at},
        ),
    ]
    for path, body in steps:
        body["occurred_at"] = body["occurred_at"].isoformat()
        r = await post(api, path, body, who)
        assert r.status_code == 200, r.text

    events = await history(api, oid)
    assert [e["type"] for e in events] == [
        "OpportunityOpened",
        "ActivityLogged",
        "StageAdvanced",
        "OpportunityLost",
    ]
    read_back = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert read_back == [YEAR_AGO, call_at, advanced_at, lost_at]
    # the dwell is business time: 20 days in lead, whatever the server's clock says
    assert events[2]["data"]["days_in_previous_stage"] == 20.0
    # recorded_at is always the server's
    assert all(datetime.fromisoformat(e["recorded_at"]) > lost_at for e in events)


async def test_the_importer_reads_nothing(api: Api) -> None:
    opened = await api.open()

    r = await api.client.get(f"/opportunities/{opened['id']}", headers=importer(api))

    assert r.status_code == 403, r.text


async def test_a_rep_backdating_an_activity_by_40_days_is_refused_naming_occurred_at(
    api: Api,
) -> None:
    opened = {"id": await open_dated(api, importer(api), datetime.now(UTC) - timedelta(days=60))}
    before = await api.event_count()
    at = datetime.now(UTC) - timedelta(days=40)

    r = await post(
        api,
        f"/opportunities/{opened['id']}/activities",
        {"kind": "call", "occurred_at": at.isoformat()},
        api.as_(),
    )

    assert problem_field(r) == "occurred_at"
    assert await api.event_count() == before


async def test_a_rep_backdates_a_call_within_the_window(api: Api) -> None:
    # a rep opens at the server's now: only admins and importers date other commands
    rm = api.as_(sub="rm-1", role="regional_manager")
    r = await post(
        api,
        "/opportunities",
        {
            "account_id": "acme-backdate",
            "title": "t",
            "amount": "1",
            "expected_close_date": "2027-01-01",
            "owner_id": "rep-1",
            "occurred_at": (datetime.now(UTC) - timedelta(days=10)).isoformat(),
        },
        rm,
    )
    assert problem_field(r) == "occurred_at"
    admin = api.as_(sub="adm", role="admin")
    opened = {"id": await open_dated(api, admin, datetime.now(UTC) - timedelta(days=10))}
    at = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)

    r = await post(
        api,
        f"/opportunities/{opened['id']}/activities",
        {"kind": "call", "occurred_at": at.isoformat()},
        api.as_(),
    )

    assert r.status_code == 200, r.text
    logged = (await history(api, opened["id"]))[-1]
    assert datetime.fromisoformat(logged["occurred_at"]) == at


async def test_business_time_of_a_deal_never_goes_backwards(api: Api) -> None:
    who = importer(api)
    oid = await open_dated(api, who, YEAR_AGO)
    later = YEAR_AGO + timedelta(days=5)
    r = await post(
        api,
        f"/opportunities/{oid}/activities",
        {"kind": "call", "occurred_at": later.isoformat()},
        who,
    )
    assert r.status_code == 200, r.text
    before = await api.event_count()

    r = await post(
        api,
        f"/opportunities/{oid}/activities",
        {"kind": "visit", "occurred_at": (later - timedelta(days=1)).isoformat()},
        who,
    )

    assert problem_field(r) == "occurred_at"
    assert "never goes backwards" in r.json()["detail"]
    assert await api.event_count() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("stakeholders", {"name": "Li", "role": "decision_maker"}),
        ("reassign", {"to_owner": "rep-2"}),
        ("close", {"outcome": "lost", "reason": "budget"}),
    ],
)
async def test_members_may_not_date_other_commands(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    opened = await api.open()
    manager = api.as_(sub="rm-1", role="regional_manager")
    body = {**body, "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()}

    r = await post(api, f"/opportunities/{opened['id']}/{path}", body, manager)

    assert problem_field(r) == "occurred_at"


async def test_a_future_business_time_is_refused(api: Api) -> None:
    opened = await api.open()
    at = datetime.now(UTC) + timedelta(hours=1)

    r = await post(
        api,
        f"/opportunities/{opened['id']}/activities",
        {"kind": "call", "occurred_at": at.isoformat()},
        importer(api),
    )

    assert problem_field(r) == "occurred_at"
