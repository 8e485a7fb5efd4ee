"""Events from the topics reach partners once, signed, retried, replayable, filtered."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.integration.alert_webhooks.conftest import Api, Receiver, conflict
from tests.support import eventually

pytestmark = pytest.mark.integration


def path() -> str:
    return f"hook-{uuid.uuid4().hex[:8]}"


def delivered(n: int) -> Any:
    return lambda items: len(items) == n and all(d["status"] == "delivered" for d in items)


async def test_an_event_reaches_the_receiver_once_with_a_valid_signature(
    api: Api, receiver: Receiver
) -> None:
    p = path()
    sub = await api.subscribe(receiver.url(p), "CrossRegionConflictDetected", region="east")
    env, later = conflict("east"), conflict("elsewhere")

    # the broker delivers it twice; one account, one partition: `later` is consumed last
    await api.publish(env, env, later)
    await api.consumed(env, later)
    (delivery,) = await api.wait_deliveries(sub["subscription_id"], delivered(1))

    (got,) = receiver.at(p)
    assert got.headers["webhook-id"] == str(env.event_id) == delivery["webhook_id"]
    body = Webhook(sub["secret"]).verify(got.body, got.headers)
    assert got.headers["content-type"].startswith("application/cloudevents+json")
    assert body["specversion"] == "1.0"
    assert body["id"] == str(env.event_id)
    assert body["type"] == "sightline.collab.CrossRegionConflictDetected.v1"
    assert body["source"] == "/sightline/collab"
    assert body["region"] == "east"
    assert body["correlationid"] == "corr-1"
    assert body["data"] == json.loads(json.dumps(env.event.payload()))
    assert delivery["attempts"] == 1
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]


async def test_a_signature_made_with_another_secret_does_not_verify(
    api: Api, receiver: Receiver
) -> None:
    p = path()
    sub = await api.subscribe(receiver.url(p), "*", region="west")
    other = await api.subscribe(receiver.url(path()), "*", region="nowhere")
    env = conflict("west")

    await api.publish(env)
    await api.wait_deliveries(sub["subscription_id"], delivered(1))

    (got,) = receiver.at(p)
    Webhook(sub["secret"]).verify(got.body, got.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(other["secret"]).verify(got.body, got.headers)


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(
    api: Api, receiver: Receiver
) -> None:
    p = path()
    receiver.plans[p] = [500, 500]
    sub = await api.subscribe(receiver.url(p), "CrossRegionConflictDetected", region="south")
    env = conflict("south")

    await api.publish(env)
    (delivery,) = await api.wait_deliveries(sub["subscription_id"], delivered(1))

    assert delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 200]
    assert delivery["attempt_log"][0]["error"] == "HTTP 500: answer 500"
    assert delivery["attempt_log"][2]["error"] is None
    assert delivery["next_attempt_at"] is None
    got = receiver.at(p)
    assert len(got) == 3
    assert {r.headers["webhook-id"] for r in got} == {str(env.event_id)}
    for r in got:
        Webhook(sub["secret"]).verify(r.body, r.headers)


async def test_a_receiver_that_keeps_failing_exhausts_the_budget(
    api: Api, receiver: Receiver
) -> None:
    p = path()
    receiver.plans[p] = [503] * 10
    sub = await api.subscribe(receiver.url(p), "*", region="far")

    await api.publish(conflict("far"))
    (delivery,) = await api.wait_deliveries(
        sub["subscription_id"], lambda items: items and items[0]["status"] == "failed"
    )

    assert delivery["attempts"] == api.settings.webhook_max_attempts == 4
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503] * 4
    assert delivery["next_attempt_at"] is None
    assert len(receiver.at(p)) == 4
    assert await api.deliveries(sub["subscription_id"], status="failed") == [delivery]
    assert await api.deliveries(sub["subscription_id"], status="delivered") == []


async def test_a_replay_sends_again_with_the_same_webhook_id(api: Api, receiver: Receiver) -> None:
    p = path()
    sub = await api.subscribe(receiver.url(p), "*", region="replay")
    env = conflict("replay")
    await api.publish(env)
    (delivery,) = await api.wait_deliveries(sub["subscription_id"], delivered(1))

    replayed = await api.ok(
        "POST",
        f"/webhooks/{sub['subscription_id']}/deliveries/{delivery['delivery_id']}/replay",
        api.admin,
        202,
    )
    assert replayed["status"] == "pending"
    (again,) = await api.wait_deliveries(
        sub["subscription_id"], lambda items: items[0]["attempts"] == 2
    )

    assert again["status"] == "delivered"
    assert again["delivery_id"] == delivery["delivery_id"]
    first, second = receiver.at(p)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(env.event_id)
    assert first.body == second.body
    Webhook(sub["secret"]).verify(second.body, second.headers)


async def test_a_failed_delivery_replayed_gets_a_fresh_budget(api: Api, receiver: Receiver) -> None:
    p = path()
    receiver.plans[p] = [500] * 4
    sub = await api.subscribe(receiver.url(p), "*", region="revive")
    await api.publish(conflict("revive"))
    (failed,) = await api.wait_deliveries(
        sub["subscription_id"], lambda items: items and items[0]["status"] == "failed"
    )

    await api.ok(
        "POST",
        f"/webhooks/{sub['subscription_id']}/deliveries/{failed['delivery_id']}/replay",
        api.manager("revive"),
        202,
    )
    (delivery,) = await api.wait_deliveries(sub["subscription_id"], delivered(1))

    assert delivery["attempts"] == 5
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 500, 500, 200]


async def test_subscriptions_get_only_their_types_and_regions(api: Api, receiver: Receiver) -> None:
    paths = {name: path() for name in ("east_conflicts", "approvals", "all_north", "all")}
    east_conflicts = await api.subscribe(
        receiver.url(paths["east_conflicts"]), "CrossRegionConflictDetected", region="reg-e"
    )
    await api.subscribe(receiver.url(paths["approvals"]), "ContactApproved")
    await api.subscribe(receiver.url(paths["all_north"]), "*", region="reg-n")
    catch_all = await api.subscribe(receiver.url(paths["all"]), "*")
    east, north, unregioned = conflict("reg-e"), conflict("reg-n"), conflict(None)

    await api.publish(east, north)
    await api.publish(unregioned, topic=api.settings.topic("collab"))  # an extra topic
    await api.consumed(east, north, unregioned)
    await api.wait_deliveries(
        catch_all["subscription_id"],
        lambda items: len(items) >= 3 and all(d["status"] == "delivered" for d in items),
    )
    await api.wait_deliveries(east_conflicts["subscription_id"], delivered(1))

    def ids(name: str) -> set[str]:
        return {r.headers["webhook-id"] for r in receiver.at(paths[name])}

    mine = {str(e.event_id) for e in (east, north, unregioned)}
    assert ids("east_conflicts") == {str(east.event_id)}
    assert ids("approvals") == set()
    assert await eventually(lambda: ids("all_north") == {str(north.event_id)})
    assert ids("all") & mine == mine
