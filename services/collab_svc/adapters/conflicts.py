"""Detected conflicts per region and month, and the activities waiting for their account."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.collab_svc.adapters.paging import row_dict
from shared.contracts.collab import CrossRegionConflictDetected
from shared.contracts.pipeline import ActivityLogged
from shared.store.cursors import decode_at, encode_at

SAVE = text(
    "INSERT INTO conflicts (conflict_id, account_id, group_id, owning_region, contact_region,"
    " actor_id, opportunity_id, activity_id, activity_kind, source, contact_at, detected_at)"
    " VALUES (:conflict_id, :account_id, :group_id, :owning_region, :contact_region, :actor_id,"
    " :opportunity_id, :activity_id, :activity_kind, :source, :contact_at, :detected_at)"
    " ON CONFLICT (conflict_id) DO NOTHING"
)
ADD_PENDING = text(
    "INSERT INTO pending_conflict_checks (activity_id, account_id, event_id, correlation_id,"
    " payload) VALUES (:activity_id, :account_id, CAST(:event_id AS uuid), :correlation_id,"
    " CAST(:payload AS jsonb)) ON CONFLICT (activity_id) DO NOTHING"
)
TAKE_PENDING = text(
    "DELETE FROM pending_conflict_checks WHERE account_id = :a"
    " RETURNING event_id, correlation_id, payload, received_at"
)
SUMMARY = text(
    "SELECT region, sum(as_owner) AS as_owner, sum(as_contact) AS as_contact FROM ("
    " SELECT owning_region AS region, 1 AS as_owner, 0 AS as_contact FROM conflicts"
    " WHERE contact_at >= :start AND contact_at < :end UNION ALL"
    " SELECT contact_region, 0, 1 FROM conflicts WHERE contact_at >= :start AND contact_at < :end"
    ") s GROUP BY region ORDER BY region"
)
COLUMNS = (
    "seq, conflict_id, account_id, group_id, owning_region, contact_region, actor_id,"
    " opportunity_id, activity_id, activity_kind, source, contact_at, detected_at"
)


@dataclass(frozen=True)
class Pending:
    activity: ActivityLogged
    event_id: UUID
    correlation_id: str | None


class ConflictViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def save(self, e: CrossRegionConflictDetected, detected_at: datetime) -> None:
        await self._conn.execute(
            SAVE,
            {
                "conflict_id": e.conflict_id,
                "account_id": e.account_id,
                "group_id": e.group_id,
                "owning_region": e.owning_region,
                "contact_region": e.contact_region,
                "actor_id": e.actor_id,
                "opportunity_id": e.opportunity_id,
                "activity_id": e.activity_id,
                "activity_kind": e.activity_kind,
                "source": e.source,
                "contact_at": e.contact_at,
                "detected_at": detected_at,
            },
        )

    async def add_pending(
        self, activity: ActivityLogged, event_id: UUID, correlation_id: str | None
    ) -> None:
        await self._conn.execute(
            ADD_PENDING,
            {
                "activity_id": activity.activity_id,
                "account_id": activity.account_id,
                "event_id": str(event_id),
                "correlation_id": correlation_id,
                "payload": json.dumps(activity.payload(), ensure_ascii=False),
            },
        )

    async def take_pending(self, account_id: str) -> list[Pending]:
        rows = await self._conn.execute(TAKE_PENDING, {"a": account_id})
        out = []
        for r in sorted(rows, key=lambda r: r.received_at):
            payload = r.payload if isinstance(r.payload, dict) else json.loads(r.payload)
            out.append(
                Pending(ActivityLogged.model_validate(payload), r.event_id, r.correlation_id)
            )
        return out

    async def page(
        self,
        region: str | None,
        start: datetime | None,
        end: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        where = ["TRUE"]
        params: dict[str, Any] = {"limit": limit + 1}
        if region is not None:
            where.append("(owning_region = :region OR contact_region = :region)")
            params["region"] = region
        if start is not None and end is not None:
            where.append("contact_at >= :start AND contact_at < :end")
            params.update(start=start, end=end)
        if cursor:
            params["at"], params["seq"] = decode_at(cursor)
            where.append("(contact_at, seq) > (:at, :seq)")
        sql = (
            f"SELECT {COLUMNS} FROM conflicts WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY contact_at, seq LIMIT :limit"
        )
        rows = list(await self._conn.execute(text(sql), params))
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = encode_at(rows[-1].contact_at, rows[-1].seq) if more and rows else None
        return [row_dict(r) for r in rows], nxt

    async def summary(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        rows = await self._conn.execute(SUMMARY, {"start": start, "end": end})
        return [
            {
                "region": r.region,
                "as_owner": int(r.as_owner),
                "as_contact": int(r.as_contact),
                "total": int(r.as_owner) + int(r.as_contact),
            }
            for r in rows
        ]
