"""All four services as separate processes (an api and a worker each), started the way
`sightline up` starts them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.auth import issue_token
from shared.runtime.launcher import LaunchError, Runtime
from shared.settings import DEV_JWT_SECRET
from tests.infra import unique_name


def runtime_env() -> dict[str, str]:
    """Embedded PostgreSQL and broker unless TEST_* name external ones (empty = unset)."""
    env = {
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", ""),
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS", ""),
        "SIGHTLINE_SCHEDULER_INTERVAL_S": "0.5",
        "SIGHTLINE_LOG_LEVEL": "WARNING",
    }
    if env["DATABASE_URL"]:
        # a shared external server: keep this run's databases apart
        env["SIGHTLINE_DATABASE_PREFIX"] = unique_name("e2e")
    if env["KAFKA_BOOTSTRAP_SERVERS"]:
        env["SIGHTLINE_TOPIC_PREFIX"] = unique_name("e2e") + "."
    return env


class Stack:
    """A started runtime plus what the tests need to drive it; `restart()` keeps the data."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = runtime_env()
        self.runtime = Runtime.on_free_ports(workdir, env=self.env, ready_timeout_s=90)
        self.ports = dict(self.runtime.ports)
        self.worker_ports = dict(self.runtime.worker_ports)
        self.kafka_port = self.runtime.kafka_port

    def start(self) -> None:
        try:
            self.runtime.start()
        except LaunchError as exc:
            pytest.fail(f"the runtime did not start: {exc}", pytrace=False)

    def restart(self) -> None:
        self.runtime.stop()
        self.runtime = Runtime(
            self.workdir,
            ports=self.ports,
            worker_ports=self.worker_ports,
            kafka_port=self.kafka_port,
            env=self.env,
            ready_timeout_s=90,
        )
        self.start()

    def url(self, service: str) -> str:
        return self.runtime.urls[service]

    @property
    def topic_prefix(self) -> str:
        return self.env.get("SIGHTLINE_TOPIC_PREFIX", "")


def auth(sub: str, role: str, region: str, team: str) -> dict[str, str]:
    token = issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("stack"))
    s.start()
    try:
        yield s
    finally:
        s.runtime.stop()
