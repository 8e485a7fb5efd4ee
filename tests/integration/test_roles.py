"""`sightline serve SERVICE --role api|worker`: the API in one process, delivery in another.

Real processes on a real database and broker: the api process serves the business routes and
appends, but publishes and consumes nothing; the worker publishes what the api appended and
applies what arrives on its topics, and over HTTP answers only its probes and metrics.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

import shared.contracts  # noqa: F401 - registers the event catalogue
from shared.auth import issue_token
from shared.contracts.collab import AccountRegistered
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope, Metadata
from shared.runtime.embedded import ensure_topics, free_port
from shared.runtime.processes import log_tail, stop_process_groups
from shared.settings import DEV_JWT_SECRET
from tests.infra import unique_name
from tests.support import eventually, read_topic

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
#: longer than several relay polls (0.2 s here) and consumer fetches: time enough to publish
QUIET_S = 2.0
TOKEN = issue_token(DEV_JWT_SECRET, sub="roles-admin", role="admin", region="east", team="e-1")


@contextmanager
def serving(role: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """`sightline serve pipeline --role ROLE` on a free port until ready; yields its URL."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "serve", "pipeline", "--role", role],
            env={**os.environ, **env, "SIGHTLINE_PORT": str(port), "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while (answer := _readiness(url)) != "ready":
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{role} did not get ready ({answer}):\n{log_tail(log)}")
                time.sleep(0.2)
            yield url
        finally:
            stop_process_groups([process], grace_s=10)


def _readiness(url: str) -> str:
    try:
        answer = httpx.get(f"{url}/readyz", timeout=3)
    except httpx.HTTPError as exc:
        return repr(exc)
    return "ready" if answer.status_code == 200 else answer.text


async def _register_account(bootstrap: str, topic: str, account_id: str) -> None:
    """AccountRegistered on collab.events, as collab's relay would publish it."""
    now = datetime.now(UTC)
    event = AccountRegistered(
        occurred_at=now, account_id=account_id, name="Acme", owning_region="east", actor_id="a"
    )
    envelope = Envelope(
        uuid.uuid4(), f"account-{account_id}", "account", 1, event, now, account_id, Metadata()
    )
    record = encode(envelope, "/sightline/collab")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


async def _delivery_state(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS appended, count(published_at) AS published FROM events"
        )
        consumed = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE consumer LIKE '%pipeline-collab'"
        )
        assert row is not None
        return {"appended": row["appended"], "published": row["published"], "consumed": consumed}
    finally:
        await conn.close()


def test_the_api_process_publishes_nothing_until_a_worker_runs_which_serves_no_api(
    database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = unique_name("roles") + "."
    asyncio.run(
        ensure_topics(kafka_bootstrap, [f"{prefix}{d}.events" for d in ("pipeline", "collab")], 1)
    )
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SIGHTLINE_TOPIC_PREFIX": prefix,
        "SIGHTLINE_TOPIC_PARTITIONS": "1",
        "SIGHTLINE_RELAY_POLL_INTERVAL_S": "0.2",
        "SIGHTLINE_ENVIRONMENT": "local",
        "SIGHTLINE_LOG_LEVEL": "INFO",
        "SIGHTLINE_MODE": "all",  # the flag wins over the environment
    }
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serving("api", env, tmp_path / "api.log") as api:
        assert httpx.get(f"{api}/playbook", headers=auth).status_code == 200
        assert httpx.get(f"{api}/openapi.json").status_code == 200
        asyncio.run(_register_account(kafka_bootstrap, f"{prefix}collab.events", "acme"))
        time.sleep(QUIET_S)
        before = asyncio.run(_delivery_state(dsn))
        # the seeded playbook was appended at start-up, but nobody relays or consumes
        assert before["appended"] >= 1
        assert (before["published"], before["consumed"]) == (0, 0)

        with serving("worker", env, tmp_path / "worker.log") as worker:
            for path in ("/playbook", "/opportunities", "/openapi.json", "/docs"):
                assert httpx.get(f"{worker}{path}", headers=auth).status_code == 404, path
            ready = httpx.get(f"{worker}/readyz").json()
            assert set(ready["checks"]) == {"database", "broker", "consumers"}

            async def delivered() -> bool:
                state = await _delivery_state(dsn)
                return bool(state["published"] == state["appended"] and state["consumed"] == 1)

            asyncio.run(eventually(delivered, timeout_s=60))
            records = asyncio.run(
                read_topic(kafka_bootstrap, f"{prefix}pipeline.events", lambda rs: len(rs) >= 1)
            )
            assert len(records) == before["appended"]
            metrics = httpx.get(f"{worker}/metrics").text
            assert 'sightline_events_published_total{service="pipeline"}' in metrics
            applied = f'sightline_events_consumed_total{{group="{prefix}pipeline-collab",outcome="applied"}} 1.0'
            assert applied in metrics
        # the account the worker's consumer applied is what the api's commands check against
        opened = httpx.post(
            f"{api}/opportunities",
            headers=auth,
            json={
                "account_id": "acme",
                "title": "Acme line 2",
                "amount": "1000",
                "expected_close_date": "2027-01-31",
                "region": "east",
                "team": "e-1",
            },
        )
        assert opened.status_code == 201, opened.text
