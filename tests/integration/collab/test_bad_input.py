"""Bad input and forged tokens: a clear 4xx problem, and not one event written."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.integration.collab.conftest import Api, assert_problem, forged_tokens, unique

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def regions(api: Api) -> None:
    await api.regions("east", "south")


@pytest.mark.parametrize("kind", list(forged_tokens()))
async def test_forged_or_expired_tokens_are_refused_and_write_nothing(api: Api, kind: str) -> None:
    # the forged claims say rep-1 of east; the tampered one claims an admin of south
    account = await api.account("east")
    before = await api.event_count()
    headers = {"Authorization": f"Bearer {forged_tokens()[kind]}"}
    attempts = [
        ("POST", "/accounts", {"account_id": unique("a"), "name": "X", "owning_region": "east"}),
        ("PUT", f"/accounts/{account['account_id']}", {"name": "Hijacked"}),
        ("POST", f"/accounts/{account['account_id']}/contact-requests", {"purpose": "x"}),
        ("POST", "/org/regions", {"region_id": unique("r"), "name": "X"}),
        ("GET", f"/accounts/{account['account_id']}/timeline", None),
        ("GET", "/contact-requests", None),
    ]
    for method, url, body in attempts:
        r = await api.client.request(method, url, json=body, headers=headers)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
    assert await api.event_count() == before


async def test_a_missing_token_is_refused_but_health_and_docs_are_open(api: Api) -> None:
    assert_problem(await api.client.get("/accounts"), 401)
    assert_problem(await api.client.post("/org/regions", json={}), 401)
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/asyncapi.json"):
        assert (await api.client.get(path)).status_code == 200, path
    spec = (await api.client.get("/openapi.json")).json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"registerAccount", "getAccountTimeline", "requestContact", "listConflicts"} <= ops


ACCOUNT = '"account_id": "a1", "name": "X"'
WINDOW = '"window_start": "2026-01-01T00:00:00Z", "window_end": "2026-01-02T00:00:00Z"'


@pytest.mark.parametrize(
    ("target", "body", "field"),
    [
        ("/accounts", '{"account_id": "a1", ', "body"),
        ("/accounts", "[]", ""),
        ("/accounts", '{"account_id": 5, "name": "X"}', "account_id"),
        ("/accounts", '{"account_id": "a b/c", "name": "X"}', "account_id"),
        ("/accounts", '{"account_id": "a1"}', "name"),
        ("/accounts", "{" + ACCOUNT + ', "surprise": true}', "surprise"),
        ("/accounts", "{" + ACCOUNT + ', "contact_emails": "x"}', "contact_emails"),
        ("/accounts", "{" + ACCOUNT + ', "contact_emails": ["no-at"]}', "contact_emails"),
        ("/org/regions", '{"region_id": "r", "name": ""}', "name"),
        (
            "/org/members",
            '{"member_id": "m", "name": "X", "role": "boss", "region_id": "e", "team_id": "e"}',
            "role",
        ),
        (
            "request",
            '{"purpose": "p", "window_start": "soon", "window_end": "later"}',
            "window_start",
        ),
        (
            "request",
            '{"purpose": "p", "window_start": "2026-01-01T00:00:00", "window_end": "2026-01-02"}',
            "window_start",
        ),
        ("request", "{" + WINDOW + "}", "purpose"),
        ("approve", '{"valid_until": 17}', "valid_until"),
        ("reject", "{}", "reason"),
        ("reject", '{"reason": ["a"]}', "reason"),
    ],
)
async def test_malformed_bodies_are_a_422_naming_the_field(
    api: Api, target: str, body: str, field: str
) -> None:
    account = (await api.account("east"))["account_id"]
    window = {
        "window_start": api.clock.now().isoformat(),
        "window_end": (api.clock.now() + timedelta(days=3)).isoformat(),
    }
    req = await api.ok(
        "POST",
        f"/accounts/{account}/contact-requests",
        api.rep("south"),
        201,
        json={"purpose": "p", **window},
    )
    url, who = {
        "request": (f"/accounts/{account}/contact-requests", api.rep("south")),
        "approve": (f"/contact-requests/{req['request_id']}/approve", api.admin),
        "reject": (f"/contact-requests/{req['request_id']}/reject", api.admin),
    }.get(target, (target, api.admin))
    before = await api.event_count()
    r = await api.client.post(
        url, content=body, headers={**who, "content-type": "application/json"}
    )
    problem = assert_problem(r, 422)
    if field:
        named = [e["field"] for e in problem.get("errors", [])] + [problem.get("field")]
        assert any(field in str(n) for n in named), problem
    assert await api.event_count() == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/accounts/a%20b"),
        ("GET", "/org/members/" + "x" * 101),
        ("GET", "/accounts?limit=0"),
        ("GET", "/accounts?cursor=%%%"),
        ("GET", "/org/members?role=boss"),
        ("GET", "/contact-requests?box=outbox"),
        ("GET", "/contact-requests?status=maybe"),
        ("GET", "/accounts/x/contact-frequency"),
    ],
)
async def test_bad_paths_and_queries_are_422(api: Api, method: str, url: str) -> None:
    assert_problem(await api.client.request(method, url, headers=api.admin), 422)


async def test_unknown_ids_are_404_and_write_nothing(api: Api) -> None:
    before = await api.event_count()
    for method, url, body in (
        ("GET", "/accounts/ghost", None),
        ("PUT", "/accounts/ghost", {"name": "X"}),
        ("POST", "/accounts/ghost/transfer", {"to_region": "south", "reason": "x"}),
        ("GET", "/org/members/ghost", None),
        (
            "PUT",
            "/org/members/ghost",
            {"name": "X", "role": "rep", "region_id": "east", "team_id": "east-1"},
        ),
        ("POST", "/contact-requests/ghost/approve", None),
        ("POST", "/contact-requests/ghost/reject", {"reason": "x"}),
        ("GET", "/groups/ghost/timeline", None),
        ("GET", "/no-such-route", None),
    ):
        assert_problem(await api.client.request(method, url, json=body, headers=api.admin), 404)
    assert await api.event_count() == before


async def test_an_oversized_body_is_a_413(api: Api) -> None:
    before = await api.event_count()
    huge = json.dumps({"account_id": unique("a"), "name": "x" * 2_000_000})
    r = await api.client.post(
        "/accounts", content=huge, headers={**api.admin, "content-type": "application/json"}
    )
    assert_problem(r, 413)
    assert await api.event_count() == before
