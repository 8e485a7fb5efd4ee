"""Webhook subscriptions in PostgreSQL: the API's rows and the dispatcher's matching view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.webhooks.domain.subscriptions import Subscription
from shared.store.cursors import decode_seq, encode_seq

#: what the API shows of a subscription: everything but the secret
COLUMNS = "seq, subscription_id, url, event_types, region, description, created_by, created_at"
ADD = text(
    "INSERT INTO webhook_subscriptions (subscription_id, url, event_types, region, description,"  # noqa: S608 - our own column list
    " secret, created_by, created_at) VALUES (CAST(:id AS uuid), :url, :types, :region,"
    f" :description, :secret, :by, :at) RETURNING {COLUMNS}"
)
GET = text(
    f"SELECT {COLUMNS} FROM webhook_subscriptions WHERE subscription_id = CAST(:id AS uuid)"  # noqa: S608
)
DELETE = text(
    "DELETE FROM webhook_subscriptions WHERE subscription_id = CAST(:id AS uuid) RETURNING 1"
)
ALL = text("SELECT subscription_id, url, event_types, region FROM webhook_subscriptions")


def view(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data.pop("seq", None)
    data["subscription_id"] = str(data["subscription_id"])
    data["event_types"] = list(data["event_types"])
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


class Subscriptions:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(
        self,
        subscription_id: str,
        url: str,
        event_types: list[str],
        region: str | None,
        description: str | None,
        secret: str,
        created_by: str,
        created_at: datetime,
    ) -> dict[str, Any]:
        row = (
            await self._conn.execute(
                ADD,
                {
                    "id": subscription_id,
                    "url": url,
                    "types": event_types,
                    "region": region,
                    "description": description,
                    "secret": secret,
                    "by": created_by,
                    "at": created_at,
                },
            )
        ).one()
        return view(row)

    async def get(self, subscription_id: str) -> dict[str, Any] | None:
        row = (await self._conn.execute(GET, {"id": subscription_id})).first()
        return view(row) if row else None

    async def delete(self, subscription_id: str) -> bool:
        return (await self._conn.execute(DELETE, {"id": subscription_id})).first() is not None

    async def page(
        self, region: str | None, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Oldest first; `region` None lists every subscription (admins)."""
        where = "seq > :after" + (" AND region = :region" if region is not None else "")
        rows = list(
            await self._conn.execute(
                text(
                    f"SELECT {COLUMNS} FROM webhook_subscriptions WHERE {where}"  # noqa: S608
                    " ORDER BY seq LIMIT :limit"
                ),
                {
                    "after": decode_seq(cursor) if cursor else 0,
                    "region": region,
                    "limit": limit + 1,
                },
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [view(r) for r in rows], encode_seq(rows[-1].seq) if more and rows else None

    async def all(self) -> list[Subscription]:
        """What the dispatcher matches each event against (a small table)."""
        return [
            Subscription(str(r.subscription_id), r.url, tuple(r.event_types), r.region)
            for r in await self._conn.execute(ALL)
        ]
