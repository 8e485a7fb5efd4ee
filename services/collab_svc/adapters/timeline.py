"""The cross-region timeline (跨区客户时间线): one row per event, keyset-paged by (occurred_at, seq)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.replay.bulk import copy_rows
from shared.store.cursors import decode_at, encode_at

ADD = text(
    "INSERT INTO timeline_entries (event_id, account_id, group_id, kind, region, actor,"
    " occurred_at, data) VALUES (CAST(:event_id AS uuid), :account_id, :group_id, :kind,"
    " :region, :actor, :occurred_at, CAST(:data AS jsonb)) ON CONFLICT (event_id) DO NOTHING"
)
# a consumer's batch in one statement: unnest keeps the offset order (so `seq` follows it) and
# each entry takes its account's group as the single-row ADD's caller looks it up
ADD_MANY = text(
    "INSERT INTO timeline_entries (event_id, account_id, group_id, kind, region, actor,"
    " occurred_at, data) SELECT t.e, t.a, acc.group_id, t.k, t.r, t.actor, t.o,"
    " CAST(t.d AS jsonb) FROM unnest(CAST(:ids AS uuid[]), CAST(:accounts AS text[]),"
    " CAST(:kinds AS text[]), CAST(:regions AS text[]), CAST(:actors AS text[]),"
    " CAST(:occurred AS timestamptz[]), CAST(:data AS text[]))"
    " WITH ORDINALITY AS t(e, a, k, r, actor, o, d, i)"
    " LEFT JOIN accounts acc ON acc.account_id = t.a ORDER BY t.i"
    " ON CONFLICT (event_id) DO NOTHING"
)
# group_id always comes from the accounts table, so a late, redelivered or reordered event
# cannot put back an older group
BACKFILL_GROUP = text(
    "UPDATE timeline_entries t SET group_id = a.group_id FROM accounts a"
    " WHERE a.account_id = :a AND t.account_id = :a AND t.group_id IS DISTINCT FROM a.group_id"
)
GROUPS_OF = text(
    "SELECT account_id, group_id FROM accounts WHERE account_id = ANY(CAST(:accounts AS text[]))"
)
COPY_COLUMNS = (
    "event_id",
    "account_id",
    "group_id",
    "kind",
    "region",
    "actor",
    "occurred_at",
    "data",
)
BACKFILL_GROUPS = text(
    "UPDATE timeline_entries t SET group_id = a.group_id FROM accounts a"
    " WHERE a.account_id = ANY(CAST(:accounts AS text[])) AND t.account_id = a.account_id"
    " AND t.group_id IS DISTINCT FROM a.group_id"
)
# ISO weeks in UTC; contacts compare trimmed and case-insensitively
FREQUENCY = text(
    "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'IYYY-IW') AS week, count(*) AS n"
    " FROM timeline_entries WHERE account_id = :a AND kind = 'activity'"
    " AND (CAST(:since AS timestamptz) IS NULL OR occurred_at >= CAST(:since AS timestamptz))"
    " AND (CAST(:until AS timestamptz) IS NULL OR occurred_at < CAST(:until AS timestamptz))"
    " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(data -> 'contacts') c"
    " WHERE lower(btrim(c)) = lower(btrim(:contact)))"
    " GROUP BY 1 ORDER BY 1"
)
COLUMNS = "seq, event_id, account_id, group_id, kind, region, actor, occurred_at, data"


@dataclass(frozen=True)
class Entry:
    event_id: UUID
    account_id: str
    kind: str
    region: str | None
    actor: str | None
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class TimelineQuery:
    kinds: tuple[str, ...] = ()
    region: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order: Literal["asc", "desc"] = "desc"
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class Week:
    week: str
    week_start: date
    activities: int


@dataclass
class Frequency:
    weeks: list[Week] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(w.activities for w in self.weeks)


def render(row: Any) -> dict[str, Any]:
    data = row.data if isinstance(row.data, dict) else json.loads(row.data)
    return {
        "event_id": str(row.event_id),
        "account_id": row.account_id,
        "group_id": row.group_id,
        "kind": row.kind,
        "region": row.region,
        "actor": row.actor,
        "occurred_at": row.occurred_at.isoformat(),
        "data": data,
    }


class Timeline:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, entry: Entry, group_id: str | None) -> None:
        await self._conn.execute(
            ADD,
            {
                "event_id": str(entry.event_id),
                "account_id": entry.account_id,
                "group_id": group_id,
                "kind": entry.kind,
                "region": entry.region,
                "actor": entry.actor,
                "occurred_at": entry.occurred_at,
                "data": json.dumps(entry.data, ensure_ascii=False),
            },
        )

    async def add_many(self, entries: list[Entry]) -> None:
        """Entries in this order, each in its account's current group (as `add` is given)."""
        if not entries:
            return
        await self._conn.execute(
            ADD_MANY,
            {
                "ids": [e.event_id for e in entries],
                "accounts": [e.account_id for e in entries],
                "kinds": [e.kind for e in entries],
                "regions": [e.region for e in entries],
                "actors": [e.actor for e in entries],
                "occurred": [e.occurred_at for e in entries],
                "data": [json.dumps(e.data, ensure_ascii=False) for e in entries],
            },
        )

    async def backfill_group(self, account_id: str) -> None:
        await self._conn.execute(BACKFILL_GROUP, {"a": account_id})

    async def copy_many(
        self, rows: Sequence[tuple[UUID, str, str, str | None, str | None, datetime, str]]
    ) -> None:
        """Rebuilds: entries as `add` writes them, each with its account's current group, copied
        in one go. A row: event id, account, kind, region, actor, occurred_at, data as JSON."""
        accounts = sorted({r[1] for r in rows})
        found = await self._conn.execute(GROUPS_OF, {"accounts": accounts})
        groups: dict[str, str | None] = {r.account_id: r.group_id for r in found}
        entries = [(e, a, groups.get(a), k, r, who, at, d) for e, a, k, r, who, at, d in rows]
        await copy_rows(self._conn, "timeline_entries", COPY_COLUMNS, entries)

    async def backfill_groups(self, account_ids: Sequence[str]) -> None:
        await self._conn.execute(BACKFILL_GROUPS, {"accounts": list(account_ids)})

    async def has_entries(self, column: Literal["account_id", "group_id"], value: str) -> bool:
        sql = f"SELECT EXISTS (SELECT 1 FROM timeline_entries WHERE {column} = :v)"  # noqa: S608
        return bool((await self._conn.execute(text(sql), {"v": value})).scalar())

    async def page(
        self, column: Literal["account_id", "group_id"], value: str, q: TimelineQuery
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page in business-time order; each condition keeps it an index range scan."""
        where = [f"{column} = :scope"]
        params: dict[str, Any] = {"scope": value, "limit": q.limit + 1}
        if len(q.kinds) == 1:
            where.append("kind = :kind")  # matches the (scope, kind, occurred_at, seq) index
            params["kind"] = q.kinds[0]
        elif q.kinds:
            where.append("kind = ANY(:kinds)")
            params["kinds"] = list(q.kinds)
        if q.region is not None:
            where.append("region = :region")
            params["region"] = q.region
        if q.since is not None:
            where.append("occurred_at >= :since")
            params["since"] = q.since
        if q.until is not None:
            where.append("occurred_at < :until")
            params["until"] = q.until
        if q.cursor:
            params["at"], params["seq"] = decode_at(q.cursor)
            where.append(f"(occurred_at, seq) {'>' if q.order == 'asc' else '<'} (:at, :seq)")
        direction = "ASC" if q.order == "asc" else "DESC"
        sql = (
            f"SELECT {COLUMNS} FROM timeline_entries WHERE {' AND '.join(where)}"  # noqa: S608
            f" ORDER BY occurred_at {direction}, seq {direction} LIMIT :limit"
        )
        rows = list(await self._conn.execute(text(sql), params))
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        nxt = encode_at(rows[-1].occurred_at, rows[-1].seq) if more and rows else None
        return [render(r) for r in rows], nxt

    async def contact_frequency(
        self, account_id: str, contact: str, since: datetime | None, until: datetime | None
    ) -> Frequency:
        """Activities naming `contact` per ISO week, weeks without any filled in as zero."""
        rows = await self._conn.execute(
            FREQUENCY, {"a": account_id, "contact": contact, "since": since, "until": until}
        )
        counts = {r.week: int(r.n) for r in rows}
        if not counts:
            return Frequency()
        first, last = (_week_start(k) for k in (min(counts), max(counts)))
        weeks = []
        monday = first
        while monday <= last:
            year, number, _ = monday.isocalendar()
            key = f"{year:04d}-{number:02d}"
            weeks.append(Week(f"{year:04d}-W{number:02d}", monday, counts.get(key, 0)))
            monday += timedelta(days=7)
        return Frequency(weeks)


def _week_start(key: str) -> date:
    year, number = key.split("-")
    return date.fromisocalendar(int(year), int(number), 1)
