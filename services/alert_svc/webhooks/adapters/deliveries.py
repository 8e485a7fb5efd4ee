"""Deliveries in PostgreSQL: recorded by the dispatcher, claimed by workers, shown in the log.

Workers claim due rows with `FOR UPDATE SKIP LOCKED` and keep the lock until the attempt's
outcome is committed, so two workers never send the same delivery at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.webhooks.domain.retries import Next
from shared.store.cursors import decode_seq, encode_seq

#: NOTIFY channel that wakes the delivery workers when deliveries become due now
CHANNEL = "sightline_webhooks"
COLUMNS = (
    "d.seq, d.delivery_id, d.subscription_id, d.event_id, d.event_type, d.status, d.attempts,"
    " d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at"
)
RECORD_EVENT = text(
    "INSERT INTO webhook_events (event_id, event_type, region, body, received_at)"
    " VALUES (CAST(:id AS uuid), :type, :region, :body, :at) ON CONFLICT DO NOTHING"
)
ADD = text(
    "INSERT INTO webhook_deliveries (delivery_id, subscription_id, event_id, event_type, status,"
    " give_up_after, next_attempt_at, created_at) SELECT gen_random_uuid(), s.subscription_id,"
    " CAST(:event AS uuid), :type, 'pending', :budget, :at, :at FROM webhook_subscriptions s"
    " WHERE s.subscription_id = ANY(CAST(:subs AS uuid[]))"
    " ON CONFLICT (subscription_id, event_id) DO NOTHING"
)
CLAIM = text(
    "SELECT d.delivery_id, d.event_id, d.attempts, d.give_up_after, s.url, s.secret, e.body"
    " FROM webhook_deliveries d"
    " JOIN webhook_subscriptions s ON s.subscription_id = d.subscription_id"
    " JOIN webhook_events e ON e.event_id = d.event_id"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= :now"
    " ORDER BY d.next_attempt_at LIMIT :limit FOR UPDATE OF d SKIP LOCKED"
)
SAVE_ATTEMPT = text(
    "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, error,"
    " duration_ms) VALUES (CAST(:id AS uuid), :attempt, :at, :code, :error, :ms)"
)
UPDATE = text(
    "UPDATE webhook_deliveries SET attempts = :attempt, status = :status,"
    " next_attempt_at = :next, last_status_code = :code, last_error = :error,"
    " delivered_at = CASE WHEN :status = 'delivered' THEN CAST(:at AS timestamptz)"
    " ELSE delivered_at END WHERE delivery_id = CAST(:id AS uuid)"
)
REPLAY = text(
    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = :now,"
    " give_up_after = attempts + :budget"
    " WHERE delivery_id = CAST(:id AS uuid) AND subscription_id = CAST(:sub AS uuid)"
    " RETURNING delivery_id"
)
ATTEMPTS = text(
    "SELECT delivery_id, attempt, attempted_at, status_code, error, duration_ms"
    " FROM webhook_attempts WHERE delivery_id = ANY(CAST(:ids AS uuid[]))"
    " ORDER BY delivery_id, attempt"
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed delivery: what to send where, and how many attempts it has had."""

    delivery_id: str
    webhook_id: str
    attempts: int
    give_up_after: int
    url: str
    secret: str
    body: str


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class Deliveries:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(
        self,
        event_id: str,
        event_type: str,
        region: str | None,
        body: str,
        subscription_ids: list[str],
        give_up_after: int,
        now: datetime,
    ) -> None:
        """The event's body once and a pending delivery per subscription (repeats: no-ops)."""
        await self._conn.execute(
            RECORD_EVENT,
            {"id": event_id, "type": event_type, "region": region, "body": body, "at": now},
        )
        await self._conn.execute(
            ADD,
            {
                "event": event_id,
                "type": event_type,
                "subs": subscription_ids,
                "budget": give_up_after,
                "at": now,
            },
        )
        await self.notify()

    async def notify(self) -> None:
        """Wake the workers once this transaction commits."""
        await self._conn.execute(text("SELECT pg_notify(:c, '')"), {"c": CHANNEL})

    async def claim_due(self, now: datetime, limit: int) -> list[Outgoing]:
        rows = await self._conn.execute(CLAIM, {"now": now, "limit": limit})
        return [
            Outgoing(
                str(r.delivery_id),
                str(r.event_id),
                r.attempts,
                r.give_up_after,
                r.url,
                r.secret,
                r.body,
            )
            for r in rows
        ]

    async def save_attempt(
        self, out: Outgoing, result: AttemptResult, nxt: Next, at: datetime
    ) -> None:
        attempt = out.attempts + 1
        params = {"id": out.delivery_id, "attempt": attempt, "at": at}
        await self._conn.execute(
            SAVE_ATTEMPT,
            {**params, "code": result.status_code, "error": result.error, "ms": result.duration_ms},
        )
        await self._conn.execute(
            UPDATE,
            {
                **params,
                "status": nxt.status,
                "next": nxt.next_attempt_at,
                "code": result.status_code,
                "error": result.error,
            },
        )

    async def replay(
        self, subscription_id: str, delivery_id: str, budget: int, now: datetime
    ) -> bool:
        """Due again now, with a fresh budget of attempts; False if there is no such delivery."""
        row = await self._conn.execute(
            REPLAY, {"id": delivery_id, "sub": subscription_id, "budget": budget, "now": now}
        )
        if row.first() is None:
            return False
        await self.notify()
        return True

    async def page(
        self,
        subscription_id: str,
        status: str | None,
        cursor: str | None,
        limit: int,
        delivery_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The delivery log, newest first, each delivery with its attempts."""
        where = ["d.subscription_id = CAST(:sub AS uuid)"]
        params: dict[str, Any] = {"sub": subscription_id, "limit": limit + 1}
        if cursor:
            where.append("d.seq < :before")
            params["before"] = decode_seq(cursor)
        if status is not None:
            where.append("d.status = :status")
            params["status"] = status
        if delivery_id is not None:
            where.append("d.delivery_id = CAST(:delivery AS uuid)")
            params["delivery"] = delivery_id
        sql = (
            f"SELECT {COLUMNS} FROM webhook_deliveries d WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY d.seq DESC LIMIT :limit"
        )
        rows = list(await self._conn.execute(text(sql), params))
        more = len(rows) > limit
        rows = rows[:limit]
        items: list[dict[str, Any]] = [
            {k: str(v) if k.endswith("_id") else _iso(v) for k, v in r._mapping.items()}
            for r in rows
        ]
        logs: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            item.pop("seq")
            item["webhook_id"] = item["event_id"]
            item["attempt_log"] = logs.setdefault(item["delivery_id"], [])
        if logs:
            for a in await self._conn.execute(ATTEMPTS, {"ids": list(logs)}):
                logs[str(a.delivery_id)].append(
                    {
                        "attempt": a.attempt,
                        "attempted_at": a.attempted_at.isoformat(),
                        "status_code": a.status_code,
                        "error": a.error,
                        "duration_ms": a.duration_ms,
                    }
                )
        return items, encode_seq(rows[-1].seq) if more and rows else None
