"""What the services need: databases, topics (configured or embedded) and a dev token."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.auth import issue_token
from shared.runtime.embedded import (
    EmbeddedKafka,
    EmbeddedPostgres,
    create_database,
    ensure_topics,
    with_database,
)
from shared.runtime.processes import run_blocking
from shared.settings import DEV_JWT_SECRET

DOMAINS: tuple[str, ...] = ("pipeline", "collab", "alert", "scoring")
Say = Callable[[str], None]
DEMO_ADMIN = {"sub": "demo-admin", "role": "admin", "region": "east", "team": "east-1"}


class LaunchError(RuntimeError):
    """The runtime could not be brought up; the message says which part and why."""


def env_value(env: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` set in `env`; empty counts as unset so callers can blank one."""
    for name in names:
        if env.get(name):
            return env[name]
    return None


def topic_names(env: Mapping[str, str]) -> list[str]:
    prefix = env_value(env, "SIGHTLINE_TOPIC_PREFIX") or ""
    return [f"{prefix}{domain}.events" for domain in DOMAINS]


def provide_databases(
    env: Mapping[str, str], services: Sequence[str], pg_dir: Path, say: Say
) -> tuple[EmbeddedPostgres | None, dict[str, str]]:
    """One database per service, `<prefix>_<service>` (prefix `sightline`), created if missing.

    `SIGHTLINE_<SERVICE>_DATABASE_URL` wins; else the server of `DATABASE_URL`; else an
    embedded PostgreSQL in `pg_dir`, which the caller owns (and must stop) from then on.
    """
    overrides = {
        svc: url
        for svc in services
        if (url := env_value(env, f"SIGHTLINE_{svc.upper()}_DATABASE_URL"))
    }
    server_url = env_value(env, "DATABASE_URL", "SIGHTLINE_DATABASE_URL")
    postgres: EmbeddedPostgres | None = None
    if server_url is None and len(overrides) < len(services):
        postgres = EmbeddedPostgres(pg_dir)
        say(f"starting embedded PostgreSQL (data in {postgres.data_dir})")
        try:
            postgres.start()
        except Exception as exc:
            raise LaunchError(f"embedded PostgreSQL failed: {exc}") from exc
        server_url = postgres.url
    urls: dict[str, str] = {}
    prefix = env_value(env, "SIGHTLINE_DATABASE_PREFIX") or "sightline"
    try:
        for svc in services:
            url = overrides.get(svc) or with_database(str(server_url), f"{prefix}_{svc}")
            name = make_url(url).database
            if not name:
                raise LaunchError(f"the database URL for {svc} names no database")
            try:
                urls[svc] = run_blocking(create_database(url, name))
            except Exception as exc:
                raise LaunchError(f"cannot create database {name} for {svc}: {exc}") from exc
            if postgres is not None and svc not in overrides:
                urls[svc] = postgres.url_for(name)  # the readable `?host=/socket/dir` form
    except BaseException:
        if postgres is not None:
            postgres.stop()
        raise
    return postgres, urls


def provide_broker(
    env: Mapping[str, str], port: int, log_dir: Path, say: Say
) -> tuple[EmbeddedKafka | None, str]:
    """`KAFKA_BOOTSTRAP_SERVERS`, or an embedded Tansu on `port` (the caller then owns it).

    Creates the four domain topics either way; an existing topic is left as it is.
    """
    bootstrap = env_value(env, "KAFKA_BOOTSTRAP_SERVERS", "SIGHTLINE_KAFKA_BOOTSTRAP_SERVERS")
    kafka: EmbeddedKafka | None = None
    if bootstrap is None:
        kafka = EmbeddedKafka(port, log_dir=log_dir)
        say(f"starting embedded Tansu broker on {kafka.bootstrap} (log {kafka.log_path})")
        try:
            kafka.start()
        except Exception as exc:
            raise LaunchError(f"embedded broker failed: {exc}") from exc
        bootstrap = kafka.bootstrap
    try:
        ensure_domain_topics(env, bootstrap)
    except BaseException as exc:
        if kafka is not None:
            kafka.stop()
        if isinstance(exc, Exception):
            raise LaunchError(f"cannot create topics on {bootstrap}: {exc!r}") from exc
        raise
    return kafka, bootstrap


def ensure_domain_topics(env: Mapping[str, str], bootstrap: str) -> None:
    """The four domain topics, with the configured partitions; existing ones are left alone."""
    partitions = int(env_value(env, "SIGHTLINE_TOPIC_PARTITIONS") or 6)
    replicas = int(env_value(env, "SIGHTLINE_TOPIC_REPLICATION_FACTOR") or 1)
    run_blocking(ensure_topics(bootstrap, topic_names(env), partitions, replicas))


def jwt_secret(env: Mapping[str, str]) -> str | None:
    """The HS256 secret the services will verify with (as Settings decides), None under RS256."""
    if (env_value(env, "SIGHTLINE_JWT_ALGORITHM") or "HS256") != "HS256":
        return None
    secret = env_value(env, "JWT_SECRET", "SIGHTLINE_JWT_SECRET")
    local = (env_value(env, "SIGHTLINE_ENVIRONMENT") or "local") == "local"
    return secret or (DEV_JWT_SECRET if local else None)


def demo_token(env: Mapping[str, str]) -> str | None:
    secret = jwt_secret(env)
    if secret is None:
        return None
    return issue_token(
        secret,
        sub=DEMO_ADMIN["sub"],
        role=DEMO_ADMIN["role"],
        region=DEMO_ADMIN["region"],
        team=DEMO_ADMIN["team"],
        issuer=env_value(env, "SIGHTLINE_JWT_ISSUER"),
        audience=env_value(env, "SIGHTLINE_JWT_AUDIENCE"),
    )
