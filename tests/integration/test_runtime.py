"""The runtime's embedded PostgreSQL and Tansu broker, and the launcher around them, for real."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.runtime.embedded import EmbeddedKafka, EmbeddedPostgres, ensure_topics
from shared.runtime.launcher import SERVICES, LaunchError, Runtime
from shared.runtime.processes import run_blocking
from tests.infra import unique_name

# Stands in for `sightline serve`: answers /readyz and shows the environment it was given.
FAKE_SERVICE = """
import http.server, json, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(dict(os.environ)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["SIGHTLINE_PORT"])), Handler).serve_forever()
"""
NO_EXTERNAL_SERVERS = {"DATABASE_URL": "", "KAFKA_BOOTSTRAP_SERVERS": ""}


def fake_service(service: str, role: str) -> list[str]:
    return [sys.executable, "-c", FAKE_SERVICE]


def crashing_service(service: str, role: str) -> list[str]:
    return [sys.executable, "-c", f"print('{service} {role} cannot start'); raise SystemExit(3)"]


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(attrs=("name", "cmdline"))
        if p.info["name"] == "postgres" and str(data_dir.resolve()) in (p.info["cmdline"] or [])
    ]


async def scalar(url: str, sql: str) -> object:
    """Run `sql` in its own transaction; the first column of its first row, if it returns rows."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def topic_names(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_fresh_database_can_be_created_and_queried(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)"))
        await conn.execute(text("INSERT INTO note VALUES (1, 'hello')"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT body FROM note"))).scalar_one() == "hello"
    await engine.dispose()


def test_embedded_postgres_keeps_its_data_across_restarts_and_stops_for_real(
    tmp_path: Path,
) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    try:
        url = server.ensure_database("keeper")
        assert server.ensure_database("keeper") == url  # idempotent
        assert url == f"postgresql+asyncpg://postgres@/keeper?host={server.socket_dir}"
        run_blocking(scalar(url, "CREATE TABLE kept AS SELECT 42 AS answer"))
    finally:
        server.stop()
    assert postgres_processes(tmp_path / "pg") == []

    server.start()
    try:
        assert run_blocking(scalar(url, "SELECT answer FROM kept")) == 42
    finally:
        server.stop()
    assert postgres_processes(tmp_path / "pg") == []


async def test_the_broker_delivers_a_record_with_its_headers(kafka_bootstrap: str) -> None:
    topic = unique_name("runtime")
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)  # already there: no error
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            topic, b'{"n": 1}', key=b"stream-1", headers=[("ce_type", b"NoteTaken")]
        )
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, fetch_max_wait_ms=10, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, sent.partition)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        record = await asyncio.wait_for(consumer.getone(), timeout=10)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"stream-1", b'{"n": 1}')
    assert list(record.headers) == [("ce_type", b"NoteTaken")]


async def test_restarting_the_embedded_broker_brings_it_back_empty_on_the_same_port(
    kafka_broker: EmbeddedKafka,
) -> None:
    topic = unique_name("restart")
    await ensure_topics(kafka_broker.bootstrap, [topic], partitions=1)
    bootstrap, pid = kafka_broker.bootstrap, kafka_broker.pid

    kafka_broker.restart()

    assert (kafka_broker.bootstrap, kafka_broker.running) == (bootstrap, True)
    assert kafka_broker.pid != pid
    assert topic not in await topic_names(bootstrap)


def test_the_runtime_gives_each_service_its_database_and_the_broker_then_stops_everything(
    tmp_path: Path,
) -> None:
    runtime = Runtime.on_free_ports(
        tmp_path, env={**NO_EXTERNAL_SERVERS, "SIGHTLINE_TOPIC_PREFIX": "rt."}, argv=fake_service
    )
    runtime.start()
    try:
        assert runtime.exited() is None
        assert runtime.kafka is not None
        broker_pid = runtime.kafka.pid
        assert set(runtime.database_urls) == set(SERVICES)
        for svc in SERVICES:
            for role, url in (("api", runtime.urls[svc]), ("worker", runtime.worker_urls[svc])):
                got = json.loads(httpx.get(f"{url}/env").text)
                assert got["DATABASE_URL"] == runtime.database_urls[svc]
                assert got["KAFKA_BOOTSTRAP_SERVERS"] == runtime.bootstrap
                assert (got["SIGHTLINE_SERVICE"], got["SIGHTLINE_MODE"]) == (svc, role)
            database = run_blocking(scalar(runtime.database_urls[svc], "SELECT current_database()"))
            assert database == f"sightline_{svc}"
        topics = run_blocking(topic_names(runtime.bootstrap))
        assert {"rt.pipeline.events", "rt.scoring.events"} <= set(topics)
        assert runtime.demo_token()
    finally:
        runtime.stop()
    assert postgres_processes(tmp_path / "pg") == []
    assert not psutil.pid_exists(broker_pid or 0)
    urls = [*runtime.urls.values(), *runtime.worker_urls.values()]
    assert len(set(urls)) == 2 * len(SERVICES)
    assert all(not _answers(url) for url in urls)


def test_the_runtime_reports_a_service_that_dies_while_starting_and_cleans_up(
    tmp_path: Path,
) -> None:
    runtime = Runtime.on_free_ports(
        tmp_path, env=NO_EXTERNAL_SERVERS, services=["alert"], argv=crashing_service
    )
    with pytest.raises(LaunchError, match=r"alert (api|worker) exited with code 3") as failure:
        runtime.start()
    assert "cannot start" in str(failure.value)  # the log tail comes with the error
    assert postgres_processes(tmp_path / "pg") == []
    assert runtime.kafka is None


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/readyz", timeout=0.5)
    except httpx.HTTPError:
        return False
    return True
