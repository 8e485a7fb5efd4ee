"""Input PostgreSQL cannot store, dates outside the business range, and how errors are shaped."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared.observability import JsonFormatter
from tests.integration.pipeline.conftest import Api
from tests.integration.pipeline.test_bad_input import assert_problem

pytestmark = pytest.mark.integration


def fields_named(body: dict[str, Any]) -> set[str]:
    named = {str(body["field"])} if "field" in body else set()
    return named | {str(e["field"]) for e in body.get("errors", [])}


async def post_raw(api: Api, path: str, raw: bytes, role: str = "rep") -> Any:
    headers = {**api.as_(role=role), "Content-Type": "application/json"}
    return await api.client.post(path, content=raw, headers=headers)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"kind": "call", "summary": "spec\\u0000questions"}', "summary"),
        (b'{"kind": "call", "contacts": ["Li", "Wang\\u0000"]}', "contacts.1"),
        (b'{"kind": "call", "next_step": "\\ud800 lone surrogate"}', "next_step"),
        (b'{"kind": "call", "occurred_at": "0001-01-01T00:30:00+01:00"}', "occurred_at"),
        (b'{"kind": "call", "occurred_at": "0001-01-01T00:00:00Z"}', "occurred_at"),
        (b'{"kind": "call", "occurred_at": "2100-01-01T00:00:00Z"}', "occurred_at"),
    ],
)
async def test_an_activity_the_database_could_not_store_is_refused_naming_the_field(
    api: Api, raw: bytes, field: str
) -> None:
    opp = await api.open()
    before = await api.event_count()

    r = await post_raw(api, f"/opportunities/{opp['id']}/activities", raw)

    assert field in fields_named(assert_problem(r, 422))
    assert await api.event_count() == before


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"kind": "requirement_checklist", "fields": {"scope": "a\\u0000b"}}', "fields.scope"),
        (b'{"kind": "requirement_checklist", "fields": {"business_goals": [1e999]}}', "fields"),
        (b'{"kind": "requirement_checklist", "fields": {"scope": {"k\\u0000": 1}}}', "fields"),
    ],
)
async def test_artifact_fields_are_checked_to_any_depth(api: Api, raw: bytes, field: str) -> None:
    opp = await api.open()
    before = await api.event_count()

    r = await post_raw(api, f"/opportunities/{opp['id']}/artifacts", raw)

    named = fields_named(assert_problem(r, 422))
    assert any(n.startswith(field) for n in named), named
    assert await api.event_count() == before


@pytest.mark.parametrize("param", ["stage", "owner_id", "cursor"])
async def test_a_nul_in_a_query_parameter_is_refused_naming_it(api: Api, param: str) -> None:
    r = await api.client.get(f"/opportunities?{param}=a%00b", headers=api.as_())

    assert param in fields_named(assert_problem(r, 422))


@pytest.mark.parametrize("role", ["rep", "admin", "partner", "importer"])
async def test_a_nul_in_a_new_deal_is_refused_for_every_role(api: Api, role: str) -> None:
    await api.know_account("acme-nul")
    raw = (
        b'{"account_id": "acme-nul", "title": "CNC\\u0000", "amount": "1",'
        b' "expected_close_date": "2027-03-31", "region": "east", "team": "east-1"}'
    )

    r = await post_raw(api, "/opportunities", raw, role)

    assert "title" in fields_named(assert_problem(r, 422))


async def test_an_expected_close_date_outside_the_business_range_is_refused(api: Api) -> None:
    await api.know_account("acme-range")
    body = {
        "account_id": "acme-range",
        "title": "t",
        "amount": "1",
        "expected_close_date": "0001-01-01",
    }

    r = await api.client.post("/opportunities", json=body, headers=api.as_())

    assert "expected_close_date" in fields_named(assert_problem(r, 422))


async def test_a_body_that_is_not_utf8_is_a_documented_400_problem(api: Api) -> None:
    opp = await api.open()

    r = await post_raw(api, f"/opportunities/{opp['id']}/activities", b'{"kind": "\xff\xfe"}')

    body = assert_problem(r, 400)
    assert body["type"] == "https://sightline.dev/problems/unreadable-body"
    doc = (await api.client.get("/openapi.json")).json()
    documented = doc["paths"]["/opportunities/{opportunity_id}/activities"]["post"]["responses"]
    assert "unreadable-body" in documented["400"]["description"]


async def test_a_405_names_the_allowed_methods(api: Api) -> None:
    r = await api.client.delete("/opportunities", headers=api.as_())

    assert_problem(r, 405)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


async def test_metrics_are_documented_as_plain_text(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()

    content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]
    assert (await api.client.get("/metrics")).headers["content-type"].startswith("text/plain")


async def test_a_500_carries_the_correlation_id_in_header_body_and_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom() -> None:
        raise RuntimeError("an unexpected bug")

    api.app.add_api_route("/test-only/boom", boom)
    with caplog.at_level(logging.ERROR):
        r = await api.client.get("/test-only/boom", headers={"X-Correlation-Id": "cid-boom-1"})

    body = assert_problem(r, 500)
    assert r.headers["X-Correlation-Id"] == body["correlation_id"] == "cid-boom-1"
    [record] = [rec for rec in caplog.records if rec.exc_info and "boom" in rec.getMessage()]
    assert '"correlation_id": "cid-boom-1"' in JsonFormatter("pipeline").format(record)
