"""`sightline up` supervises what it started: services, the embedded broker and PostgreSQL."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from shared.runtime.launcher import Runtime
from shared.runtime.processes import run_blocking
from tests.integration.test_runtime import (
    NO_EXTERNAL_SERVERS,
    fake_service,
    postgres_processes,
    scalar,
    topic_names,
)
from tests.support import header, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.on_free_ports(
        tmp_path,
        env={**NO_EXTERNAL_SERVERS, "SIGHTLINE_TOPIC_PREFIX": "sv."},
        services=["pipeline", "alert"],
        argv=fake_service,
        restart_backoff_s=0.2,
    )
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()
    assert postgres_processes(tmp_path / "pg") == [], "stop leaves no PostgreSQL behind"


def wait_for(check: Callable[[], object], timeout_s: float = 60.0) -> object:
    deadline = time.monotonic() + timeout_s
    value: object = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as exc:  # not there yet
            value = exc
        if value and not isinstance(value, Exception):
            return value
        time.sleep(0.2)
    raise AssertionError(f"not met within {timeout_s}s (last: {value!r})")


def ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200


def test_a_killed_service_process_is_started_again_and_its_log_says_why(
    runtime: Runtime,
) -> None:
    old = runtime.pid("alert")
    os.kill(old or 0, signal.SIGKILL)
    wait_for(lambda: runtime.restarts.get("alert") == 1)
    wait_for(lambda: ready(runtime.urls["alert"]))
    assert runtime.pid("alert") not in (old, None)
    assert "exited with signal SIGKILL" in runtime.log_path("alert").read_text()
    assert ready(runtime.urls["pipeline"]), "the other services were left alone"
    assert runtime.restarts.get("pipeline") is None
    assert runtime.restarts.get("alert-worker") is None, "and so was its worker"


def test_a_killed_worker_is_started_again_and_its_api_keeps_running(runtime: Runtime) -> None:
    api, old = runtime.pid("pipeline"), runtime.pid("pipeline-worker")
    assert None not in (api, old) and api != old, "each service runs an api and a worker"
    os.kill(old or 0, signal.SIGKILL)
    wait_for(lambda: runtime.restarts.get("pipeline-worker") == 1)
    wait_for(lambda: ready(runtime.worker_urls["pipeline"]))
    assert runtime.pid("pipeline-worker") not in (old, None)
    log = runtime.log_path("pipeline-worker").read_text()
    assert "pipeline worker exited with signal SIGKILL" in log
    assert runtime.pid("pipeline") == api
    assert runtime.restarts.get("pipeline") is None


def test_a_killed_broker_comes_back_on_the_same_port_with_its_topics(runtime: Runtime) -> None:
    assert runtime.kafka is not None
    bootstrap, old = runtime.bootstrap, runtime.kafka.pid
    os.killpg(old or 0, signal.SIGKILL)
    wait_for(lambda: runtime.restarts.get("broker") == 1)
    assert runtime.kafka.running and runtime.kafka.pid != old
    assert runtime.bootstrap == bootstrap
    topics = set(run_blocking(topic_names(bootstrap)))
    assert {"sv.pipeline.events", "sv.collab.events"} <= topics


def test_a_killed_postgres_is_started_again_on_its_data(runtime: Runtime) -> None:
    url = runtime.database_urls["pipeline"]
    run_blocking(scalar(url, "CREATE TABLE survives (n int)"))
    assert runtime.postgres is not None
    [postmaster] = postgres_processes(runtime.workdir / "pg")  # children name no data dir
    postmaster.kill()
    wait_for(lambda: runtime.restarts.get("postgres") == 1)
    assert wait_for(lambda: run_blocking(scalar(url, "SELECT count(*) + 1 FROM survives"))) == 1


def test_stopping_a_supervised_runtime_leaves_no_process_behind(tmp_path: Path) -> None:
    rt = Runtime.on_free_ports(
        tmp_path, env=NO_EXTERNAL_SERVERS, services=["scoring"], argv=fake_service
    )
    rt.start()
    pids = [rt.pid("scoring") or 0, rt.pid("scoring-worker") or 0, rt.kafka.pid if rt.kafka else 0]
    rt.stop()
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert rt.restarts == {}


def test_a_killed_broker_comes_back_and_the_real_relay_publishes_the_event_log_again(
    tmp_path: Path,
) -> None:
    rt = Runtime.on_free_ports(
        tmp_path,
        env={**NO_EXTERNAL_SERVERS, "SIGHTLINE_TOPIC_PREFIX": "rp.", "SIGHTLINE_LOG_LEVEL": "INFO"},
        services=["pipeline"],  # the real service: it seeds a playbook, its relay publishes it
        ready_timeout_s=120,
        restart_backoff_s=0.2,
    )
    rt.start()
    try:
        topic = "rp.pipeline.events"
        first = run_blocking(read_topic(rt.bootstrap, topic, lambda rs: len(rs) >= 1, 60))
        assert first, "the seeded playbook was published"
        assert rt.kafka is not None
        os.killpg(rt.kafka.pid or 0, signal.SIGKILL)
        wait_for(lambda: rt.restarts.get("broker") == 1)
        again = run_blocking(read_topic(rt.bootstrap, topic, lambda rs: len(rs) >= 1, 90))
        assert {header(r, "ce_id") for r in again} == {header(r, "ce_id") for r in first}
        # the relay runs in the worker process, not in the api
        assert "republishing" in rt.log_path("pipeline-worker").read_text()
        assert "republishing" not in rt.log_path("pipeline").read_text()
        wait_for(lambda: ready(rt.urls["pipeline"]))
        assert rt.restarts == {"broker": 1}, "the service's processes kept running"
    finally:
        rt.stop()
