"""Dead letters kept in the consumer's own database: parked, listed, replayed or discarded.

A message that fails deterministically is parked here (the dead-letter topic is a best-effort
copy). `replay` only flags rows: the consumer that owns them applies them again through its
inbox, so a replay is idempotent and runs with the handlers of the running code.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.messaging.faults import StallError
from shared.observability import DLQ_TOTAL, EVENTS_CONSUMED

log = logging.getLogger(__name__)

# The same message delivered again (a crash between parking and the offset commit) counts as
# another attempt on its open row rather than a second row.
PARK_AGAIN = text(
    "UPDATE dead_letters SET error = :error, attempts = attempts + 1, updated_at = now()"
    " WHERE consumer = :consumer AND topic = :topic AND partition = :partition"
    ' AND "offset" = :offset AND value IS NOT DISTINCT FROM :value'
    " AND status IN ('parked', 'replay')"
)
PARK = text(
    'INSERT INTO dead_letters (consumer, event_id, event_type, topic, partition, "offset",'
    " key, value, headers, error) VALUES (:consumer, :event_id, :event_type, :topic, :partition,"
    " :offset, :key, :value, CAST(:headers AS jsonb), :error)"
)
DUE = text(
    'SELECT id, topic, partition, "offset", key, value, headers FROM dead_letters'
    " WHERE consumer = :consumer AND status = 'replay' ORDER BY id LIMIT :limit"
)
REPLAYED = text("UPDATE dead_letters SET status = 'replayed', updated_at = now() WHERE id = :id")
FAILED_AGAIN = text(
    "UPDATE dead_letters SET status = 'parked', error = :error, attempts = attempts + 1,"
    " updated_at = now() WHERE id = :id"
)
OPEN_COUNT = text("SELECT count(*) FROM dead_letters WHERE status IN ('parked', 'replay')")
PARKED_EVENTS_COUNT = text(
    "SELECT count(*) FROM events WHERE parked_at IS NOT NULL AND published_at IS NULL"
)


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which rows a CLI command acts on; unset fields match everything."""

    consumer: str | None = None
    event_type: str | None = None
    ids: Sequence[int] = ()
    statuses: Sequence[str] = ("parked",)

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["status = ANY(:statuses)"]
        params: dict[str, Any] = {"statuses": list(self.statuses)}
        if self.consumer:
            clauses.append("consumer LIKE :consumer")
            params["consumer"] = f"%{self.consumer}%"
        if self.event_type:
            # the full ce_type or just the event name (`ActivityLogged`)
            clauses.append("(event_type = :etype OR event_type LIKE :etype_name)")
            params["etype"] = self.event_type
            params["etype_name"] = f"%.{self.event_type}.v%"
        if self.ids:
            clauses.append("id = ANY(:ids)")
            params["ids"] = list(self.ids)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    event_id: str | None
    event_type: str | None
    topic: str
    partition: int
    offset: int
    error: str
    attempts: int
    status: str
    parked_at: datetime


def _encode_headers(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[k, base64.b64encode(bytes(v)).decode()] for k, v in headers])


def decode_headers(stored: Any) -> list[tuple[str, bytes]]:
    items = stored if isinstance(stored, list) else json.loads(stored)
    return [(str(k), base64.b64decode(v)) for k, v in items]


async def park(
    conn: AsyncConnection, consumer: str, msg: ConsumerRecord[Any, Any], error: str
) -> None:
    headers = {k: bytes(v) for k, v in msg.headers}
    params = {
        "consumer": consumer,
        "event_id": _text(headers.get("ce_id")),
        "event_type": _text(headers.get("ce_type")),
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "key": msg.key,
        "value": msg.value,
        "headers": _encode_headers(list(msg.headers)),
        "error": error[:4000],
    }
    if (await conn.execute(PARK_AGAIN, params)).rowcount == 0:
        await conn.execute(PARK, params)


async def park_message(
    engine: AsyncEngine,
    consumer: str,
    dlq_topic: str,
    msg: ConsumerRecord[Any, Any],
    producer: AIOKafkaProducer,
    exc: Exception,
) -> None:
    """Park `msg` durably, then copy it (best effort) to the group's dead-letter topic.

    Raises StallError when the row cannot be written: without it the consumer must not move on.
    """
    error = f"{type(exc).__name__}: {exc}"
    try:
        async with engine.begin() as conn:
            await park(conn, consumer, msg, error)
    except Exception as fault:
        raise StallError(f"cannot park a dead letter: {type(fault).__name__}: {fault}") from fault
    await _copy_to_topic(msg, producer, consumer, dlq_topic, error)
    DLQ_TOTAL.labels(consumer).inc()
    EVENTS_CONSUMED.labels(consumer, "dead-lettered").inc()
    log.error("dead-lettered %s/%d@%d: %s", msg.topic, msg.partition, msg.offset, error)


async def _copy_to_topic(
    msg: ConsumerRecord[Any, Any],
    producer: AIOKafkaProducer,
    consumer: str,
    dlq_topic: str,
    error: str,
) -> None:
    headers = [
        *list(msg.headers),
        ("x-dlq-error", error[:2000].encode()),
        ("x-dlq-group", consumer.encode()),
        ("x-dlq-topic", msg.topic.encode()),
        ("x-dlq-partition", str(msg.partition).encode()),
        ("x-dlq-offset", str(msg.offset).encode()),
    ]
    try:
        await asyncio.wait_for(
            producer.send_and_wait(dlq_topic, msg.value, key=msg.key, headers=headers),
            timeout=10,
        )
    except Exception as exc:  # the table holds the dead letter; the topic is a convenience
        log.warning("dead letter not copied to %s: %s", dlq_topic, exc)


def _text(raw: bytes | None) -> str | None:
    return raw.decode(errors="replace") if raw is not None else None


async def list_dead_letters(engine: AsyncEngine, which: DeadLetterFilter) -> list[DeadLetter]:
    where, params = which.where()
    columns = 'id, consumer, event_id, event_type, topic, partition, "offset", error, attempts'
    sql = f"SELECT {columns}, status, parked_at FROM dead_letters WHERE {where} ORDER BY id"  # noqa: S608
    async with engine.connect() as conn:
        rows = await conn.execute(text(sql), params)
        return [DeadLetter(**r._asdict()) for r in rows]


async def _set_status(engine: AsyncEngine, which: DeadLetterFilter, status: str) -> int:
    where, params = which.where()
    sql = f"UPDATE dead_letters SET status = :new, updated_at = now() WHERE {where}"  # noqa: S608
    async with engine.begin() as conn:
        result = await conn.execute(text(sql), {**params, "new": status})
    return int(result.rowcount or 0)


async def request_replay(engine: AsyncEngine, which: DeadLetterFilter) -> int:
    """Flag parked rows for replay; their consumer applies them again within seconds."""
    return await _set_status(engine, which, "replay")


async def discard(engine: AsyncEngine, which: DeadLetterFilter) -> int:
    """Give up on parked rows for good (kept for the record, never replayed)."""
    return await _set_status(engine, which, "discarded")


async def due_replays(engine: AsyncEngine, consumer: str, limit: int = 100) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(DUE, {"consumer": consumer, "limit": limit}))


async def mark_replayed(conn: AsyncConnection, dead_letter_id: int) -> None:
    await conn.execute(REPLAYED, {"id": dead_letter_id})


async def mark_failed_again(engine: AsyncEngine, dead_letter_id: int, error: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(FAILED_AGAIN, {"id": dead_letter_id, "error": error[:4000]})


async def open_counts(engine: AsyncEngine) -> tuple[int, int]:
    """(dead letters parked or awaiting replay, outbox rows parked) of this database."""
    async with engine.connect() as conn:
        letters = (await conn.execute(OPEN_COUNT)).scalar() or 0
        events = (await conn.execute(PARKED_EVENTS_COUNT)).scalar() or 0
    return int(letters), int(events)
