"""Test data through the front doors: accounts as collab would announce them (or registered
through collab's own API when it runs), deals via the API, histories published as a relay would,
and consumer lag read from the broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

import shared.contracts  # noqa: F401 - registers the event catalogue
from shared.contracts.collab import AccountRegistered
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope, Metadata
from shared.runtime.embedded import ensure_topics

DOMAINS = ("pipeline", "collab", "alert", "scoring")
PARTITIONS = 6
REGION = "east"
NOT_YET_KNOWN = "account-not-yet-known"
SEED_TIMEOUT_S = 90.0


async def create_topics(bootstrap: str, prefix: str) -> None:
    """The topics `sightline up` provisions, so that no service waits for another to create them."""
    await ensure_topics(bootstrap, [f"{prefix}{d}.events" for d in DOMAINS], PARTITIONS)


async def register_accounts(bootstrap: str, topic: str, account_ids: list[str]) -> None:
    """Publish AccountRegistered on collab.events, as collab_svc's relay would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        now = datetime.now(UTC)
        sends = []
        for account_id in account_ids:
            event = AccountRegistered(
                occurred_at=now,
                account_id=account_id,
                name=f"Bench account {account_id}",
                owning_region=REGION,
                actor_id="bench",
            )
            envelope = Envelope(
                event_id=uuid.uuid4(),
                stream_id=f"account-{account_id}",
                stream_type="account",
                version=1,
                event=event,
                recorded_at=now,
                key=account_id,
                metadata=Metadata(actor="bench", region=REGION),
            )
            record = encode(envelope, "/sightline/collab")
            sends.append(
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def publish(bootstrap: str, topic: str, envelopes: list[Envelope], source: str) -> None:
    """Publish `envelopes` as CloudEvents keyed by their partition key, as a relay would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        sends = []
        for envelope in envelopes:
            record = encode(envelope, source)
            sends.append(
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def collab_accounts(
    base_url: str, admin_token: str, account_ids: list[str], region: str = REGION
) -> None:
    """Define `region` and register `account_ids` in it through collab_svc's API (as an admin)."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
        body = {"region_id": region, "name": region.title()}
        response = await client.post("/org/regions", json=body)
        if response.status_code not in (201, 409):  # 409: defined by an earlier section
            raise RuntimeError(f"defining region {region}: {response.status_code} {response.text}")
        for account_id in account_ids:
            body = {
                "account_id": account_id,
                "name": f"Bench account {account_id}",
                "owning_region": region,
                "industry": "industrial equipment",
            }
            response = await client.post("/accounts", json=body)
            if response.status_code != 201:
                raise RuntimeError(
                    f"registering {account_id}: {response.status_code} {response.text[:500]}"
                )


async def open_opportunities(
    base_url: str, token: str, count: int, accounts: list[str], concurrency: int
) -> list[str]:
    """POST /opportunities `count` times; retries while the accounts are still on their way."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency)
    deadline = time.monotonic() + SEED_TIMEOUT_S
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30.0
    ) as client:

        async def open_one(i: int) -> str:
            body = {
                "account_id": accounts[i % len(accounts)],
                "title": f"Bench deal {i}",
                "amount": "125000.00",
                "expected_close_date": "2027-06-30",
            }
            while True:
                async with gate:
                    response = await client.post("/opportunities", json=body)
                if response.status_code == 201:
                    return str(response.json()["id"])
                waiting = response.status_code == 409 and NOT_YET_KNOWN in response.text
                if not waiting or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"opening an opportunity: {response.status_code} {response.text[:500]}"
                    )
                await asyncio.sleep(0.5)

        # one first, so the others do not all spin while the consumer joins its group
        first = await open_one(0)
        rest = await asyncio.gather(*(open_one(i) for i in range(1, count)))
    return [first, *rest]


async def consumer_lag(bootstrap: str, groups: tuple[str, ...], topics: list[str]) -> int:
    """Events on `topics` not yet committed by every one of `groups` (summed over them).

    A group that has committed nothing on a partition counts that partition's whole log.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await consumer.start()
        await admin.start()
        tps = []
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            tps += [TopicPartition(topic, p) for p in partitions]
        ends = await consumer.end_offsets(tps) if tps else {}
        lag = 0
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            for tp, end in ends.items():
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag += max(0, end - done)
        return lag
    finally:
        await admin.close()
        await consumer.stop()
