"""The runtime under test, started the way `sightline up` starts it, with embedded servers only.

Faults need the servers in our hands (pg_ctl, kill -9), so configured ones are blanked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.infra import asyncpg_dsn
from shared.auth import issue_token
from shared.runtime.embedded import EmbeddedKafka, EmbeddedPostgres, with_database
from shared.runtime.launcher import SERVICES, Runtime
from shared.settings import DEV_JWT_SECRET

#: who drives the load: (sub, role, region, team)
ACTORS: dict[str, tuple[str, str, str, str]] = {
    "admin": ("chaos-admin", "admin", "east", "east-1"),
    "east_rep": ("rep-east", "rep", "east", "east-1"),
    "south_rep": ("rep-south", "rep", "south", "south-1"),
    "north_rep": ("rep-north", "rep", "north", "north-1"),
    "partner": ("phone-sync", "partner", "hq", "integrations"),
}


def runtime_env() -> dict[str, str]:
    return {
        # empty counts as unset: the embedded servers, whatever the shell exports
        "DATABASE_URL": "",
        "SIGHTLINE_DATABASE_URL": "",
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "SIGHTLINE_KAFKA_BOOTSTRAP_SERVERS": "",
        "SIGHTLINE_TOPIC_PREFIX": "",
        "SIGHTLINE_SCHEDULER_INTERVAL_S": "0.5",
        "SIGHTLINE_LOG_LEVEL": "WARNING",
        **{f"SIGHTLINE_{svc.upper()}_DATABASE_URL": "" for svc in SERVICES},
    }


class Stack:
    def __init__(self, workdir: Path, say: Callable[[str], None], ready_timeout_s: float) -> None:
        self.workdir = workdir
        self.runtime = Runtime.on_free_ports(
            workdir, env=runtime_env(), ready_timeout_s=ready_timeout_s, say=say
        )
        self.tokens = {
            name: issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team)
            for name, (sub, role, region, team) in ACTORS.items()
        }

    def start(self) -> None:
        self.runtime.start()

    def stop(self) -> None:
        self.runtime.stop()

    @property
    def services(self) -> tuple[str, ...]:
        return self.runtime.services

    @property
    def postgres(self) -> EmbeddedPostgres:
        assert self.runtime.postgres is not None, "the runtime runs no embedded PostgreSQL"
        return self.runtime.postgres

    @property
    def kafka(self) -> EmbeddedKafka:
        assert self.runtime.kafka is not None, "the runtime runs no embedded broker"
        return self.runtime.kafka

    @property
    def bootstrap(self) -> str:
        return self.runtime.bootstrap

    def url(self, service: str) -> str:
        return self.runtime.urls[service]

    @property
    def units(self) -> dict[str, str]:
        """Every process by unit name (`pipeline`, `pipeline-worker`, ...) and its URL."""
        return {name: unit.url for name, unit in self.runtime.units.items()}

    def units_in(self, roles: tuple[str, ...]) -> list[str]:
        """The unit names of the processes with one of `roles` (`all` counts as either)."""
        return [
            name
            for name, unit in self.runtime.units.items()
            if unit.role in roles or unit.role == "all"
        ]

    def dsn(self, service: str) -> str:
        """asyncpg DSN of the service's own database."""
        return asyncpg_dsn(self.runtime.database_urls[service])

    def database(self, service: str) -> str:
        return str(make_url(self.runtime.database_urls[service]).database)

    @property
    def maintenance_dsn(self) -> str:
        first = self.runtime.database_urls[self.services[0]]
        return asyncpg_dsn(with_database(first, "postgres"))

    def topic(self, service: str) -> str:
        return f"{self.runtime.env.get('SIGHTLINE_TOPIC_PREFIX', '')}{service}.events"

    @property
    def topic_prefix(self) -> str:
        return self.runtime.env.get("SIGHTLINE_TOPIC_PREFIX", "")
