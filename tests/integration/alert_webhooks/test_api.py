"""The webhook API: who may manage subscriptions, the secret shown once, bad input refused."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.alert_webhooks.conftest import Api, Receiver, assert_problem

pytestmark = pytest.mark.integration


async def count(api: Api) -> int:
    page = await api.ok("GET", "/webhooks", api.admin, params={"limit": 200})
    return len(page["items"])


async def test_creating_returns_the_secret_once_and_reading_never_shows_it(
    api: Api, receiver: Receiver
) -> None:
    r = await api.client.post(
        "/webhooks",
        json={"url": receiver.url("a"), "event_types": ["AlertRaisedNot", "*"]},
        headers=api.admin,
    )
    assert r.status_code == 422, r.text  # an unknown type is refused even beside `*`

    r = await api.client.post(
        "/webhooks",
        json={
            "url": receiver.url("a"),
            "event_types": ["CrossRegionConflictDetected", "ContactApproved"],
            "region": "east",
            "description": "CRM sync",
        },
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_")
    assert r.headers["location"] == f"/webhooks/{created['subscription_id']}"
    assert created["event_types"] == ["CrossRegionConflictDetected", "ContactApproved"]
    assert created["created_by"] == "admin-hq"

    read = await api.ok("GET", r.headers["location"], api.admin)
    assert "secret" not in read
    assert read == {k: v for k, v in created.items() if k != "secret"}
    listed = await api.ok("GET", "/webhooks", api.admin, params={"limit": 200})
    assert all("secret" not in item for item in listed["items"])


async def test_an_idempotency_key_creates_one_subscription(api: Api, receiver: Receiver) -> None:
    body = {"url": receiver.url("idem"), "event_types": ["*"], "region": "idem"}
    headers = {**api.admin, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    before = await count(api)

    first = await api.ok("POST", "/webhooks", headers, 201, json=body)
    again = await api.client.post("/webhooks", json=body, headers=headers)

    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["subscription_id"] == first["subscription_id"]
    assert await count(api) == before + 1


async def test_a_regional_manager_manages_webhooks_of_their_region_only(
    api: Api, receiver: Receiver
) -> None:
    mine = await api.subscribe(receiver.url("rm"), "*", region="east", who=api.manager("east"))
    theirs = await api.subscribe(receiver.url("rm"), "*", region="south")
    url = receiver.url("rm")

    for body in ({"region": "south"}, {}):
        r = await api.client.post(
            "/webhooks",
            json={"url": url, "event_types": ["*"], **body},
            headers=api.manager("east"),
        )
        assert_problem(r, 403)
    listed = await api.ok("GET", "/webhooks", api.manager("east"), params={"limit": 200})
    assert {i["region"] for i in listed["items"]} == {"east"}
    assert mine["subscription_id"] in {i["subscription_id"] for i in listed["items"]}
    assert_problem(
        await api.client.get("/webhooks", params={"region": "south"}, headers=api.manager("east")),
        403,
    )
    for suffix in ("", "/deliveries"):
        r = await api.client.get(
            f"/webhooks/{theirs['subscription_id']}{suffix}", headers=api.manager("east")
        )
        assert_problem(r, 403)
    r = await api.client.delete(
        f"/webhooks/{theirs['subscription_id']}", headers=api.manager("east")
    )
    assert_problem(r, 403)
    await api.ok("GET", f"/webhooks/{theirs['subscription_id']}", api.admin)


@pytest.mark.parametrize("role", ["rep", "supervisor", "partner"])
async def test_other_roles_may_not_touch_webhooks(api: Api, receiver: Receiver, role: str) -> None:
    who = api.as_(role, "east")
    before = await count(api)
    body = {"url": receiver.url("x"), "event_types": ["*"], "region": "east"}

    assert_problem(await api.client.post("/webhooks", json=body, headers=who), 403)
    assert_problem(await api.client.get("/webhooks", headers=who), 403)
    assert_problem(await api.client.get(f"/webhooks/{uuid.uuid4()}", headers=who), 403)
    assert await count(api) == before


async def test_every_route_needs_a_token(api: Api) -> None:
    some = uuid.uuid4()
    for method, url in (
        ("POST", "/webhooks"),
        ("GET", "/webhooks"),
        ("GET", f"/webhooks/{some}"),
        ("DELETE", f"/webhooks/{some}"),
        ("GET", f"/webhooks/{some}/deliveries"),
        ("POST", f"/webhooks/{some}/deliveries/{some}/replay"),
    ):
        assert_problem(await api.client.request(method, url), 401)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/hook",  # loopback, another port than the listed one
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "ftp://127.0.0.1/hook",
        "https://not-allowed.example.com/hook",
        "not a url",
    ],
)
async def test_a_url_webhooks_may_not_reach_is_refused_naming_url(api: Api, url: str) -> None:
    before = await count(api)

    r = await api.client.post(
        "/webhooks", json={"url": url, "event_types": ["*"]}, headers=api.admin
    )

    body = assert_problem(r, 422)
    assert body["field"] == "url"
    assert await count(api) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["*"]}, "url"),
        ({"url": "http://127.0.0.1/x", "event_types": []}, "event_types"),
        ({"url": "http://127.0.0.1/x", "event_types": ["alert raised"]}, "event_types.0"),
        ({"url": "http://127.0.0.1/x", "event_types": ["*"], "region": ""}, "region"),
        ({"url": "http://127.0.0.1/x", "event_types": ["*"], "secret": "mine"}, "secret"),
    ],
)
async def test_bad_bodies_get_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    r = await api.client.post("/webhooks", json=body, headers=api.admin)

    problem = assert_problem(r, 422)
    assert field in {e["field"] for e in problem["errors"]}


async def test_unknown_ids_are_404_and_malformed_ids_422(api: Api, receiver: Receiver) -> None:
    sub = await api.subscribe(receiver.url("ids"), "*", region="ids")
    unknown = uuid.uuid4()

    assert_problem(await api.client.get(f"/webhooks/{unknown}", headers=api.admin), 404)
    assert_problem(await api.client.delete(f"/webhooks/{unknown}", headers=api.admin), 404)
    assert_problem(
        await api.client.post(
            f"/webhooks/{sub['subscription_id']}/deliveries/{unknown}/replay", headers=api.admin
        ),
        404,
    )
    assert_problem(await api.client.get("/webhooks/not-a-uuid", headers=api.admin), 422)


async def test_deleting_a_webhook_removes_it(api: Api, receiver: Receiver) -> None:
    sub = await api.subscribe(receiver.url("gone"), "*", region="gone")
    url = f"/webhooks/{sub['subscription_id']}"

    r = await api.client.delete(url, headers=api.admin)

    assert r.status_code == 204
    assert_problem(await api.client.get(url, headers=api.admin), 404)
    assert_problem(await api.client.get(f"{url}/deliveries", headers=api.admin), 404)
    assert_problem(await api.client.delete(url, headers=api.admin), 404)


async def test_lists_are_paged_with_a_cursor(api: Api, receiver: Receiver) -> None:
    region = f"page-{uuid.uuid4().hex[:6]}"
    made = [await api.subscribe(receiver.url("p"), "*", region=region) for _ in range(3)]

    seen: list[str] = []
    params: dict[str, object] = {"region": region, "limit": 2}
    while True:
        page = await api.ok("GET", "/webhooks", api.admin, params=params)
        seen += [i["subscription_id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert seen == [m["subscription_id"] for m in made]


async def test_the_openapi_document_names_every_webhook_operation(api: Api) -> None:
    r = await api.client.get("/openapi.json")

    assert r.status_code == 200
    operations = {op["operationId"] for item in r.json()["paths"].values() for op in item.values()}
    assert {
        "createWebhook",
        "listWebhooks",
        "getWebhook",
        "deleteWebhook",
        "listWebhookDeliveries",
        "replayWebhookDelivery",
    } <= operations
