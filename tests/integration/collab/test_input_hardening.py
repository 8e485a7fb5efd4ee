"""Collab refuses what PostgreSQL cannot store and dates outside the business range (422)."""

from __future__ import annotations

import pytest

from tests.integration.collab.conftest import Api, assert_problem, unique

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", ["/conflicts", "/conflicts/summary"])
@pytest.mark.parametrize("month", ["0000-01", "1989-12", "2100-01"])
async def test_a_month_outside_the_business_range_is_refused(
    api: Api, path: str, month: str
) -> None:
    r = await api.client.get(path, params={"month": month}, headers=api.admin)

    assert assert_problem(r, 422)["errors"][0]["field"] == "month"


async def test_a_nul_in_an_account_name_is_refused_naming_it(api: Api) -> None:
    await api.regions("east")
    before = await api.event_count()
    raw = (
        f'{{"account_id": "{unique("acct")}", "name": "Acme\\u0000", "owning_region": "east"}}'
    ).encode()

    r = await api.client.post(
        "/accounts", content=raw, headers={**api.admin, "Content-Type": "application/json"}
    )

    assert assert_problem(r, 422)["field"] == "name"
    assert await api.event_count() == before


@pytest.mark.parametrize("role", ["rep", "partner", "admin"])
async def test_a_nul_in_a_query_parameter_is_refused_for_every_role(api: Api, role: str) -> None:
    who = api.as_("u-1", role, "east", "east-1")

    r = await api.client.get("/org/members?team_id=a%00", headers=who)

    assert assert_problem(r, 422)["field"] == "team_id"


@pytest.mark.parametrize("since", ["0001-01-01T00:30:00+01:00", "0001-01-01T00:00:00Z"])
async def test_a_timeline_bound_outside_the_business_range_is_refused(api: Api, since: str) -> None:
    account = await api.account("east")

    r = await api.client.get(
        f"/accounts/{account['account_id']}/timeline",
        params={"since": since},
        headers=api.rep("east"),
    )

    assert assert_problem(r, 422)["errors"][0]["field"] == "since"


async def test_a_contact_window_outside_the_business_range_is_refused(api: Api) -> None:
    await api.regions("east", "south")
    account = await api.account("east")
    body = {
        "purpose": "visit",
        "window_start": "0001-01-01T00:30:00+01:00",
        "window_end": "0001-01-02T00:00:00Z",
    }

    r = await api.client.post(
        f"/accounts/{account['account_id']}/contact-requests", json=body, headers=api.rep("south")
    )

    fields = {e["field"] for e in assert_problem(r, 422)["errors"]}
    assert fields == {"window_start", "window_end"}
