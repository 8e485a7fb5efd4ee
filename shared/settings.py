"""One settings pattern for all four services (pydantic-settings, environment variables)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.business_time import BusinessTimePolicy

ServiceName = Literal["pipeline", "scoring", "alert", "collab"]
DEV_JWT_SECRET = "sightline-local-development-secret-change-me"  # noqa: S105 - local mode only
DEFAULT_PORTS: dict[str, int] = {"pipeline": 8001, "scoring": 8002, "alert": 8003, "collab": 8004}
#: a worker process listens (health, readiness, metrics) on its service's port plus this
WORKER_PORT_OFFSET = 100
Role = Literal["api", "worker", "all"]


class Settings(BaseSettings):
    """Read from the environment; `SIGHTLINE_` prefix except for the de-facto standard names."""

    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", extra="ignore")

    service: ServiceName = "pipeline"
    environment: Literal["local", "test", "production"] = "local"
    #: what this process runs: `api` (HTTP), `worker` (relay, consumers, schedulers) or `all`
    mode: Role = "all"
    host: str = "127.0.0.1"
    port: int | None = None

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "SIGHTLINE_DATABASE_URL")
    )
    #: connections each service process keeps (all of them pooled: none opened per request)
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    #: of those, how many a unit of work may hand to the next without checking them in
    #: (`shared.store.kept`); 0 turns it off, None: half the pool
    db_keep_connections: int | None = Field(default=None, ge=0, le=1000)
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "SIGHTLINE_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    topic_prefix: str = ""
    topic_partitions: int = 6
    #: 1 suits a single broker; a production cluster wants 3
    topic_replication_factor: int = 1
    #: aiokafka consumers: Tansu does not answer a waiting fetch early, so keep this low
    fetch_max_wait_ms: int = 10
    #: off by default: the embedded broker has no InitProducerId; production may switch it on
    kafka_enable_idempotence: bool = False
    #: Kafka transactions are not needed by the outbox/inbox design; set an id to switch them on
    kafka_transactional_id: str | None = None
    consumer_max_attempts: int = 3
    #: events a consumer applies in one transaction (what one fetch returns for a partition,
    #: up to this); 1 applies one event per transaction
    consumer_batch_max: int = Field(default=500, ge=1, le=10_000)
    relay_batch_size: int = 500
    #: a relay batch also stops at this many bytes of payload (its memory stays bounded)
    relay_batch_max_bytes: int = 4_000_000
    relay_poll_interval_s: float = 1.0
    #: the relay drains at most once per this many milliseconds: events committed meanwhile
    #: go out in one batch (one read, one produce request, one mark), which costs the worker a
    #: fraction of what a drain per commit costs under load; an event after a quiet spell goes
    #: at once. 0 drains on every notification
    relay_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    #: after a broker lost its log (memory storage restarted), publish the event log again
    republish_on_empty_broker: bool = True
    #: bytes of folded aggregates a service keeps in memory (least recently used go first)
    snapshot_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    #: glibc's mmap threshold, fixed for the process: a block this large or larger (asyncio's
    #: 256 KiB socket reads) gets a mapping of its own instead of fragmenting the heap. 0 leaves
    #: glibc's dynamic threshold alone. glibc caps it at 32 MiB
    malloc_mmap_threshold_bytes: int = Field(default=128 * 1024, ge=0, le=32 * 1024 * 1024)

    jwt_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("JWT_SECRET", "SIGHTLINE_JWT_SECRET")
    )
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    #: seconds a token is still accepted after its `exp` (clock differences with the issuer)
    jwt_leeway_s: float = Field(default=30.0, ge=0, le=300)

    #: how far back reps and managers may date an activity (`occurred_at`, a call logged late)
    backdate_window_days: float = 30.0
    #: how far ahead of the server's clock a given `occurred_at` may lie (callers' clock skew)
    clock_skew_s: float = 300.0

    idempotency_ttl_hours: float = 72.0
    #: how often time-driven workers (grant expiry, rule deadlines) look for due work
    scheduler_interval_s: float = 5.0
    #: the organisation's time zone: ISO weeks, months and quarters of scores and KPIs
    timezone: str = "Asia/Shanghai"
    max_body_bytes: int = 1_000_000
    #: webhooks (alert_svc): the hosts partner endpoints may use, comma-separated `host` or
    #: `host:port` (`[v6]:port`); `*` admits any host whose addresses are all public. A private,
    #: loopback or link-local address is refused unless that address itself is listed.
    webhook_allowed_hosts: str = ""
    #: topics the webhook dispatcher reads besides `alert.events` (comma-separated, full names)
    webhook_extra_topics: str = ""
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    #: retry n waits base·2^(n−1) seconds (capped at max), jittered down to half of that
    webhook_base_delay_s: float = Field(default=5.0, ge=0)
    webhook_max_delay_s: float = Field(default=3600.0, ge=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    #: how often the delivery worker looks for due retries (NOTIFY wakes it for new ones)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _known_timezone(self) -> Settings:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"SIGHTLINE_TIMEZONE {self.timezone!r} is not a known time zone"
            ) from None
        return self

    @model_validator(mode="after")
    def _asyncpg_url(self) -> Settings:
        """Accept the plain `postgresql://` form too; the services talk through asyncpg."""
        url = self.database_url
        if url and url.startswith(("postgresql://", "postgres://")):
            self.database_url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        return self

    @model_validator(mode="after")
    def _secrets_outside_local(self) -> Settings:
        if self.jwt_algorithm == "RS256":
            if not self.jwks_url:
                raise ValueError("RS256 needs SIGHTLINE_JWKS_URL")
            if not (self.jwt_audience and self.jwt_issuer):
                raise ValueError(
                    "RS256 against a JWKS needs SIGHTLINE_JWT_AUDIENCE and SIGHTLINE_JWT_ISSUER: "
                    "an identity provider signs tokens for other audiences too"
                )
            return self
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
        if self.environment == "local":
            if secret is None:
                self.jwt_secret = SecretStr(DEV_JWT_SECRET)
            return self
        if secret is None or secret == DEV_JWT_SECRET or len(secret) < 32:
            raise ValueError(
                "JWT_SECRET must be set to a private value of at least 32 characters "
                "outside local mode"
            )
        return self

    @property
    def http_port(self) -> int:
        """`SIGHTLINE_PORT`, else the service's port (plus `WORKER_PORT_OFFSET` for a worker,
        so that a service's api and worker can run side by side on one host)."""
        if self.port is not None:
            return self.port
        offset = WORKER_PORT_OFFSET if self.mode == "worker" else 0
        return DEFAULT_PORTS[self.service] + offset

    def topic(self, domain: str) -> str:
        return f"{self.topic_prefix}{domain}.events"

    @property
    def source(self) -> str:
        """CloudEvents `source` of this service's events."""
        return f"/sightline/{self.service}"

    def business_time_policy(self) -> BusinessTimePolicy:
        return BusinessTimePolicy(
            backdate_window=timedelta(days=self.backdate_window_days),
            future_skew=timedelta(seconds=self.clock_skew_s),
        )

    def secret(self) -> str:
        assert self.jwt_secret is not None
        return self.jwt_secret.get_secret_value()
