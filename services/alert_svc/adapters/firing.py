"""Set-based writes of the deadline scheduler: a batch of firings in a handful of statements."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.adapters.deadlines import Deadline
from services.alert_svc.domain.alert import STREAM_TYPE, stream_id
from services.alert_svc.domain.routing import Directory, Member
from shared.contracts import alert as av
from shared.events.envelope import Metadata

# Version 1 of a new stream: the unique (stream_id, version) refuses a second first event,
# so an alert whose stream exists already (fired before) is simply not inserted.
FIRST_EVENTS = text(
    "INSERT INTO events (event_id, stream_id, stream_type, version, event_name, event_version,"
    " payload, metadata, partition_key, occurred_at, recorded_at)"
    " SELECT e.id, e.s, :stream_type, 1, :name, :version, CAST(e.p AS jsonb),"
    " CAST(e.m AS jsonb), e.k, :at, :at FROM unnest(CAST(:ids AS uuid[]),"
    " CAST(:streams AS text[]), CAST(:payloads AS text[]), CAST(:metas AS text[]),"
    " CAST(:keys AS text[])) AS e(id, s, p, m, k)"
    " ON CONFLICT (stream_id, version) DO NOTHING RETURNING stream_id"
)
SUBJECTS = text(
    "SELECT opportunity_id, account_id, owner_id, team, region, status FROM alert_opportunities"
    " WHERE opportunity_id = ANY(CAST(:ids AS text[]))"
)
MEMBERS = text(
    "SELECT member_id, role, region, team, manager_id FROM alert_members"
    " WHERE member_id = ANY(CAST(:owners AS text[]))"
    " OR member_id IN (SELECT manager_id FROM alert_members"
    "   WHERE member_id = ANY(CAST(:owners AS text[])))"
    " OR (role = 'supervisor' AND team = ANY(CAST(:teams AS text[])))"
    " OR (role = 'regional_manager' AND region = ANY(CAST(:regions AS text[])))"
)
SET_STATE = text(
    "UPDATE alert_deadlines d SET state = :state, fired_at = :at, alert_id = u.a"
    " FROM unnest(CAST(:rules AS text[]), CAST(:opps AS text[]), CAST(:alerts AS text[]))"
    " AS u(r, o, a) WHERE d.rule_id = u.r AND d.opportunity_id = u.o"
)


class Firings:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def subjects(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await self._conn.execute(SUBJECTS, {"ids": list(ids)})
        return {r.opportunity_id: dict(r._mapping) for r in rows}

    async def directory(
        self, owners: Sequence[str], teams: Sequence[str], regions: Sequence[str]
    ) -> Directory:
        rows = await self._conn.execute(
            MEMBERS, {"owners": list(owners), "teams": list(teams), "regions": list(regions)}
        )
        return Directory(
            [Member(r.member_id, r.role, r.region, r.team, r.manager_id) for r in rows]
        )

    async def append_raised(
        self, events: Sequence[av.AlertRaised], at: datetime, meta: dict[str, Metadata]
    ) -> set[str]:
        """Append each alert's first event; returns the alert ids actually appended."""
        if not events:
            return set()
        result = await self._conn.execute(
            FIRST_EVENTS,
            {
                "stream_type": STREAM_TYPE,
                "name": av.AlertRaised.event_name,
                "version": av.AlertRaised.event_version,
                "at": at,
                "ids": [str(uuid.uuid4()) for _ in events],
                "streams": [stream_id(e.alert_id) for e in events],
                "payloads": [json.dumps(e.payload(), ensure_ascii=False) for e in events],
                "metas": [json.dumps(asdict(meta[e.alert_id])) for e in events],
                "keys": [e.account_id for e in events],
            },
        )
        prefix = len(stream_id(""))
        return {r.stream_id[prefix:] for r in result}

    async def set_state(
        self, state: str, done: Sequence[tuple[Deadline, str | None]], at: datetime | None
    ) -> None:
        if not done:
            return
        await self._conn.execute(
            SET_STATE,
            {
                "state": state,
                "at": at,
                "rules": [d.rule_id for d, _ in done],
                "opps": [d.opportunity_id for d, _ in done],
                "alerts": [a for _, a in done],
            },
        )
