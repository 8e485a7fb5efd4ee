"""Bad input and forged tokens: a clear 4xx problem, and not one event written."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from shared.settings import DEV_JWT_SECRET
from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


CLAIMS = {"sub": "rep-1", "role": "rep", "region": "east", "team": "east-1"}


def forged_tokens() -> dict[str, str]:
    now = int(time.time())
    return {
        "bad signature": jwt.encode(
            {**CLAIMS, "exp": now + 600}, "not-the-secret-but-long-enough-0123456789"
        ),
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({**CLAIMS, 'exp': now + 600})}.",
        "expired": jwt.encode({**CLAIMS, "exp": now - 3600}, DEV_JWT_SECRET),
        "tampered region": _tamper(jwt.encode({**CLAIMS, "exp": now + 600}, DEV_JWT_SECRET)),
        "missing role": jwt.encode(
            {"sub": "x", "region": "east", "team": "t", "exp": now + 600}, DEV_JWT_SECRET
        ),
        "garbage": "not.a.token",
    }


def _tamper(token: str) -> str:
    header, _, sig = token.split(".")
    return f"{header}.{b64({**CLAIMS, 'region': 'south', 'exp': int(time.time()) + 600})}.{sig}"


def assert_problem(r: object, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", list(forged_tokens()))
async def test_forged_or_expired_tokens_are_refused_and_write_nothing(api: Api, kind: str) -> None:
    opp = await api.open()
    before = await api.event_count()
    headers = {"Authorization": f"Bearer {forged_tokens()[kind]}"}
    r = await api.client.post(
        f"/opportunities/{opp['id']}/activities", json={"kind": "call"}, headers=headers
    )
    assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert await api.event_count() == before


async def test_a_missing_token_is_refused_but_health_and_docs_are_open(api: Api) -> None:
    assert_problem(await api.client.get("/opportunities"), 401)
    assert_problem(await api.client.post("/opportunities", json={}), 401)
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/asyncapi.json"):
        assert (await api.client.get(path)).status_code == 200, path


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"kind": "call", ', "body"),
        ('{"kind": 5}', "kind"),
        ('{"kind": "call", "contacts": "not a list"}', "contacts"),
        ('{"kind": "call", "occurred_at": "yesterday"}', "occurred_at"),
        ('{"kind": "call", "occurred_at": "2020-01-01T10:00:00"}', "occurred_at"),
        ('{"kind": "call", "surprise": true}', "surprise"),
        ('{"kind": "teleport"}', "kind"),
        ('{"kind": "call", "occurred_at": "2999-01-01T10:00:00Z"}', "occurred_at"),
        ("[]", ""),
    ],
)
async def test_malformed_activity_is_a_422_naming_the_field(
    api: Api, body: str, field: str
) -> None:
    opp = await api.open()
    before = await api.event_count()
    r = await api.client.post(
        f"/opportunities/{opp['id']}/activities",
        content=body,
        headers={**api.as_(), "content-type": "application/json"},
    )
    problem = assert_problem(r, 422)
    if field:
        named = [e["field"] for e in problem.get("errors", [])] + [problem.get("field")]  # type: ignore[union-attr]
        assert any(field in str(n) for n in named), problem
    assert await api.event_count() == before


async def test_unknown_ids_are_404(api: Api) -> None:
    before = await api.event_count()
    assert_problem(await api.client.get("/opportunities/nope", headers=api.as_()), 404)
    assert_problem(await api.client.post("/opportunities/nope/advance", headers=api.as_()), 404)
    assert_problem(await api.client.get("/opportunities/nope/history", headers=api.as_()), 404)
    assert_problem(await api.client.get("/no-such-route", headers=api.as_()), 404)
    assert await api.event_count() == before


async def test_an_oversized_body_is_a_413(api: Api) -> None:
    opp = await api.open()
    before = await api.event_count()
    huge = json.dumps({"kind": "call", "summary": "x" * 100_000})
    r = await api.client.post(
        f"/opportunities/{opp['id']}/activities",
        content=huge,
        headers={**api.as_(), "content-type": "application/json"},
    )
    assert_problem(r, 413)
    assert await api.event_count() == before


async def test_open_refuses_negative_amounts_and_bad_dates(api: Api) -> None:
    before = await api.event_count()
    for body in (
        {"account_id": "a", "title": "t", "amount": "-1", "expected_close_date": "2027-01-01"},
        {"account_id": "a", "title": "t", "amount": "1", "expected_close_date": "someday"},
        {"account_id": "a b/c", "title": "t", "amount": "1", "expected_close_date": "2027-01-01"},
        {"title": "t", "amount": "1", "expected_close_date": "2027-01-01"},
    ):
        assert_problem(await api.client.post("/opportunities", json=body, headers=api.as_()), 422)
    assert await api.event_count() == before


async def test_bad_cursor_and_limits_are_422(api: Api) -> None:
    assert_problem(await api.client.get("/opportunities?cursor=%%%", headers=api.as_()), 422)
    assert_problem(await api.client.get("/opportunities?limit=0", headers=api.as_()), 422)
    assert_problem(await api.client.get("/opportunities?status=maybe", headers=api.as_()), 422)
