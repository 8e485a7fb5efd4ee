"""Prometheus metrics, JSON logs and the correlation id carried from HTTP into event metadata."""

from __future__ import annotations

import functools
import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


@functools.cache
def labelled(metric: MetricWrapperBase, *values: str) -> Any:
    """The metric's child for these label values, kept: `labels()` takes a lock and builds
    keys on every call, which on a per-request path costs more than the count itself. For
    label values from a bounded set (services, routes, event names, status codes)."""
    return metric.labels(*values)


REQUEST_LATENCY = Histogram(
    "sightline_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_APPENDED = Counter(
    "sightline_events_appended_total", "Events appended to the store", ["service", "event"]
)
OUTBOX_BACKLOG = Gauge(
    "sightline_outbox_backlog", "Committed events not yet published", ["service"]
)
PUBLISH_LATENCY = Histogram(
    "sightline_publish_latency_seconds",
    "Time from an event's commit (recorded_at) to its publication on Kafka",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30),
)
EVENTS_PUBLISHED = Counter(
    "sightline_events_published_total", "Events published by the outbox relay", ["service"]
)
CONSUMER_LAG = Gauge(
    "sightline_consumer_lag", "Messages behind the partition end", ["group", "topic", "partition"]
)
EVENTS_CONSUMED = Counter(
    "sightline_events_consumed_total", "Events applied by consumers", ["group", "outcome"]
)
DLQ_TOTAL = Counter(
    "sightline_dead_letters_total", "Messages sent to a dead-letter topic", ["group"]
)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = getattr(record, "correlation_id", None) or correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))


CONSUMER_STALLED = Gauge(
    "sightline_consumer_stalled_partitions",
    "Partitions a consumer holds back while it waits out an infrastructure fault or a newer"
    " event version (offset not committed)",
    ["group"],
)
DEAD_LETTERS_PARKED = Gauge(
    "sightline_dead_letters_parked",
    "Dead letters in the service's database not yet replayed or discarded",
    ["service"],
)
OUTBOX_PARKED = Gauge(
    "sightline_outbox_parked", "Outbox rows the relay parked (cannot be published)", ["service"]
)
