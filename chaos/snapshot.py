"""What the stores and the broker hold after the run, read directly (each service's tables,
each topic); and the settle wait for an empty outbox and no consumer lag."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from chaos.stack import Stack
from chaos.topics import consumer_groups, lag_by_group, list_topics, message_count, read_ids


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    name: str
    correlation_id: str | None
    payload: dict[str, Any]
    published: bool


@dataclass
class Snapshot:
    events: dict[str, list[StoredEvent]] = field(default_factory=dict)
    #: rows of a `dead_letters` table per service, where the table exists
    dead_letter_rows: dict[str, int] = field(default_factory=dict)
    timeline_ids: list[str] = field(default_factory=list)
    conflict_activity_ids: list[str] = field(default_factory=list)
    collab_owners: dict[str, str] = field(default_factory=dict)
    pipeline_owners: dict[str, str] = field(default_factory=dict)
    topic_ids: dict[str, Counter[str]] = field(default_factory=dict)
    dlq_messages: dict[str, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)


async def _fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def _dead_letter_rows(dsn: str) -> int | None:
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT to_regclass('dead_letters') IS NOT NULL"):
            return None
        count: int = await conn.fetchval("SELECT count(*) FROM dead_letters")
        return count
    finally:
        await conn.close()


async def unpublished(stack: Stack) -> dict[str, int]:
    counts = {}
    for svc in stack.services:
        rows = await _fetch(
            stack.dsn(svc), "SELECT count(*) FROM events WHERE published_at IS NULL"
        )
        counts[svc] = int(rows[0][0])
    return counts


async def lag(stack: Stack) -> dict[str, int]:
    topics = await list_topics(stack.bootstrap)
    groups = await consumer_groups(stack.bootstrap, stack.topic_prefix, topics)
    domain_topics = [stack.topic(svc) for svc in stack.services]
    return await lag_by_group(stack.bootstrap, stack.topic_prefix, groups, domain_topics)


async def settle(stack: Stack, timeout_s: float) -> tuple[float, bool]:
    """Wait until no event waits for publication and no group lags; (seconds, reached)."""
    began = time.monotonic()
    while True:
        try:
            backlog = sum((await unpublished(stack)).values())
            behind = sum((await lag(stack)).values())
            if backlog == 0 and behind == 0:
                return time.monotonic() - began, True
        except Exception:  # noqa: S110 - a server still recovering: try again until the timeout
            pass
        if time.monotonic() - began > timeout_s:
            return time.monotonic() - began, False
        await asyncio.sleep(1.0)


async def take(stack: Stack) -> Snapshot:
    snap = Snapshot()
    for svc in stack.services:
        rows = await _fetch(
            stack.dsn(svc),
            "SELECT event_id::text, event_name, metadata->>'correlation_id', payload::text,"
            " published_at IS NOT NULL FROM events ORDER BY global_id",
        )
        snap.events[svc] = [
            StoredEvent(r[0], r[1], r[2], json.loads(r[3]), bool(r[4])) for r in rows
        ]
        rows_or_none = await _dead_letter_rows(stack.dsn(svc))
        if rows_or_none is not None:
            snap.dead_letter_rows[svc] = rows_or_none
    collab, pipeline = stack.dsn("collab"), stack.dsn("pipeline")
    snap.timeline_ids = [
        r[0] for r in await _fetch(collab, "SELECT event_id::text FROM timeline_entries")
    ]
    snap.conflict_activity_ids = [
        r[0] for r in await _fetch(collab, "SELECT activity_id FROM conflicts")
    ]
    snap.collab_owners = {
        r[0]: r[1] for r in await _fetch(collab, "SELECT account_id, owning_region FROM accounts")
    }
    snap.pipeline_owners = {
        r[0]: r[1]
        for r in await _fetch(pipeline, "SELECT account_id, owning_region FROM known_accounts")
    }
    topics = await list_topics(stack.bootstrap)
    for svc in stack.services:
        snap.topic_ids[svc] = await read_ids(stack.bootstrap, stack.topic(svc))
    for topic in topics:
        if topic.startswith(stack.topic_prefix) and topic.endswith(".dlq"):
            snap.dlq_messages[topic] = await message_count(stack.bootstrap, topic)
    snap.lag = await lag(stack)
    return snap
