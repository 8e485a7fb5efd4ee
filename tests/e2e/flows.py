"""Steps the end-to-end tests share: set up the org and an account, wait for propagation."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.e2e.conftest import Stack, auth

ADMIN = auth("admin-1", "admin", "east", "east-1")
EAST_REP = auth("rep-east", "rep", "east", "east-1")
EAST_SUP = auth("sup-east", "supervisor", "east", "east-1")
EAST_RM = auth("rm-east", "regional_manager", "east", "east-mgmt")
SOUTH_REP = auth("rep-south", "rep", "south", "south-1")
NORTH_REP = auth("rep-north", "rep", "north", "north-1")
PARTNER = auth("phone-sync", "partner", "hq", "integrations")


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def until(check: Any, timeout_s: float = 30.0, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"not reached within {timeout_s}s; last: {last!r}")


def set_up_org(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url("collab"), headers=ADMIN, timeout=10) as c:
        for region, zh in (("east", "华东"), ("south", "华南"), ("north", "华北")):
            ok(
                c.post(
                    "/org/regions",
                    json={"region_id": region, "name": region.title(), "name_zh": zh},
                ),
                201,
            )
            ok(
                c.post(
                    "/org/teams",
                    json={"team_id": f"{region}-1", "region_id": region, "name": f"{region} team"},
                ),
                201,
            )


def register_account(stack: Stack, account_id: str, region: str = "east", **extra: Any) -> None:
    body = {"account_id": account_id, "name": f"{account_id} Co.", "owning_region": region, **extra}
    with httpx.Client(base_url=stack.url("collab"), headers=ADMIN, timeout=10) as c:
        ok(c.post("/accounts", json=body), 201)


def open_when_known(
    stack: Stack, account_id: str, who: dict[str, str] = EAST_REP
) -> dict[str, Any]:
    """The pipeline learns accounts from collab events: retry while it says so."""
    body = {
        "account_id": account_id,
        "title": f"deal with {account_id}",
        "amount": "500000",
        "expected_close_date": "2027-06-30",
    }

    def attempt() -> dict[str, Any] | None:
        r = httpx.post(f"{stack.url('pipeline')}/opportunities", json=body, headers=who, timeout=10)
        if r.status_code == 409 and r.json()["type"].endswith("account-not-yet-known"):
            return None
        return ok(r, 201)  # type: ignore[no-any-return]

    return until(attempt)  # type: ignore[no-any-return]
