"""Deadline rows: one per rule and subject, with its due time in business time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

COLUMNS = "rule_id, opportunity_id, rule_version, state, started_at, due_at, fired_at, alert_id"
UPSERT = text(
    "INSERT INTO alert_deadlines (rule_id, opportunity_id, rule_version, state, started_at,"
    " due_at) VALUES (:rule_id, :o, :version, :state, :started, :due)"
    " ON CONFLICT (rule_id, opportunity_id) DO UPDATE SET rule_version = EXCLUDED.rule_version,"
    " state = EXCLUDED.state, started_at = EXCLUDED.started_at, due_at = EXCLUDED.due_at,"
    " fired_at = NULL, alert_id = NULL"
)
# SKIP LOCKED: concurrent workers claim disjoint rows; a row a consumer holds waits its turn
CLAIM = text(
    f"SELECT {COLUMNS} FROM alert_deadlines WHERE state = 'pending' AND due_at <= :now"  # noqa: S608
    " ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED"
)


@dataclass(frozen=True)
class Deadline:
    rule_id: str
    opportunity_id: str
    rule_version: int
    state: str
    started_at: datetime
    due_at: datetime
    fired_at: datetime | None = None
    alert_id: str | None = None


class Deadlines:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def for_update(self, rule_id: str, opportunity_id: str) -> Deadline | None:
        sql = text(
            f"SELECT {COLUMNS} FROM alert_deadlines"  # noqa: S608
            " WHERE rule_id = :r AND opportunity_id = :o FOR UPDATE"
        )
        row = (await self._conn.execute(sql, {"r": rule_id, "o": opportunity_id})).first()
        return Deadline(*row) if row else None

    async def plan(
        self, rule_id: str, opportunity_id: str, version: int, started: datetime, due: datetime
    ) -> None:
        await self._conn.execute(
            UPSERT,
            {
                "rule_id": rule_id,
                "o": opportunity_id,
                "version": version,
                "state": "pending",
                "started": started,
                "due": due,
            },
        )

    async def cancel(self, rule_id: str, opportunity_id: str) -> None:
        await self._conn.execute(
            text(
                "UPDATE alert_deadlines SET state = 'cancelled' WHERE rule_id = :r"
                " AND opportunity_id = :o AND state = 'pending'"
            ),
            {"r": rule_id, "o": opportunity_id},
        )

    async def cancel_rule(self, rule_id: str) -> int:
        result = await self._conn.execute(
            text(
                "UPDATE alert_deadlines SET state = 'cancelled'"
                " WHERE rule_id = :r AND state = 'pending'"
            ),
            {"r": rule_id},
        )
        return int(result.rowcount)

    async def claim_due(self, now: datetime, limit: int) -> list[Deadline]:
        return [Deadline(*r) for r in await self._conn.execute(CLAIM, {"now": now, "limit": limit})]

    async def fired(self, d: Deadline, at: datetime, alert_id: str) -> None:
        await self._conn.execute(
            text(
                "UPDATE alert_deadlines SET state = 'fired', fired_at = :at, alert_id = :a"
                " WHERE rule_id = :r AND opportunity_id = :o"
            ),
            {"at": at, "a": alert_id, "r": d.rule_id, "o": d.opportunity_id},
        )

    async def next_due(self) -> datetime | None:
        sql = text("SELECT min(due_at) FROM alert_deadlines WHERE state = 'pending'")
        value = (await self._conn.execute(sql)).scalar()
        return value if isinstance(value, datetime) else None
