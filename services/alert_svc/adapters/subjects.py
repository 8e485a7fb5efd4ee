"""What alert_svc learns from other services: opportunities and their history, stays, playbooks,
and the org directory (for routing and visibility)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.domain.report import Medians
from services.alert_svc.domain.routing import Member
from services.alert_svc.domain.subject import Subject
from shared.contracts.playbook import PlaybookDefinition
from shared.contracts.scoring import HealthScoreComputed
from shared.events.base import DomainEvent
from shared.events.registry import EventRegistry

ADD_EVENT = text(
    "INSERT INTO alert_opportunity_events (opportunity_id, event_id, event_name, event_version,"
    " occurred_at, payload) VALUES (:o, CAST(:id AS uuid), :name, :version, :at,"
    " CAST(:payload AS jsonb)) ON CONFLICT (event_id) DO NOTHING"
)
SAVE_SUBJECT = text(
    "INSERT INTO alert_opportunities (opportunity_id, account_id, owner_id, team, region, stage,"
    " status, updated_at) VALUES (:o, :account, :owner, :team, :region, :stage, :status, :at)"
    " ON CONFLICT (opportunity_id) DO UPDATE SET account_id = EXCLUDED.account_id,"
    " owner_id = EXCLUDED.owner_id, team = EXCLUDED.team, region = EXCLUDED.region,"
    " stage = EXCLUDED.stage, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at"
)
HISTORY = text(
    "SELECT event_name, event_version, payload FROM alert_opportunity_events"
    " WHERE opportunity_id = :o ORDER BY occurred_at, seq"
)
SAVE_MEMBER = text(
    "INSERT INTO alert_members (member_id, role, region, team, manager_id, occurred_at)"
    " VALUES (:m, :role, :region, :team, :manager, :at) ON CONFLICT (member_id) DO UPDATE SET"
    " role = EXCLUDED.role, region = EXCLUDED.region, team = EXCLUDED.team,"
    " manager_id = EXCLUDED.manager_id, occurred_at = EXCLUDED.occurred_at"
    " WHERE alert_members.occurred_at <= EXCLUDED.occurred_at"
)
SAVE_HEALTH = text(
    "INSERT INTO alert_health (member_id, week, week_ends_at, revision, score, components)"
    " VALUES (:m, :week, :ends, :revision, :score, CAST(:components AS jsonb))"
    " ON CONFLICT (member_id) DO UPDATE SET week = EXCLUDED.week,"
    " week_ends_at = EXCLUDED.week_ends_at, revision = EXCLUDED.revision,"
    " score = EXCLUDED.score, components = EXCLUDED.components"
    " WHERE (alert_health.week_ends_at, alert_health.revision)"
    " < (EXCLUDED.week_ends_at, EXCLUDED.revision)"
)
BELOW = text(
    "WITH RECURSIVE below(member_id) AS (SELECT CAST(:me AS text) UNION SELECT m.member_id"
    " FROM alert_members m JOIN below b ON m.manager_id = b.member_id)"
    " SELECT member_id FROM below"
)
MEDIANS = text(
    "SELECT stage,"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - entered_at))"
    "   FILTER (WHERE team = :team) AS team_s,"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - entered_at))"
    "   AS region_s"
    " FROM alert_stage_stays WHERE left_at IS NOT NULL AND region = :region GROUP BY stage"
)


class SubjectViews:
    def __init__(self, conn: AsyncConnection, registry: EventRegistry) -> None:
        self._conn = conn
        self._registry = registry

    async def add_event(self, opportunity_id: str, event_id: UUID, event: DomainEvent) -> None:
        await self._conn.execute(
            ADD_EVENT,
            {
                "o": opportunity_id,
                "id": str(event_id),
                "name": event.event_name,
                "version": event.event_version,
                "at": event.occurred_at,
                "payload": json.dumps(event.payload(), ensure_ascii=False),
            },
        )

    async def lock(self, opportunity_id: str) -> None:
        """One writer per subject at a time (consumer, rule re-plan)."""
        await self._conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('alert-subject:' || :o))"),
            {"o": opportunity_id},
        )

    async def history(self, opportunity_id: str) -> list[DomainEvent]:
        rows = await self._conn.execute(HISTORY, {"o": opportunity_id})
        return [self._registry.parse(r.event_name, r.event_version, r.payload) for r in rows]

    async def save(self, s: Subject, at: datetime) -> None:
        await self._conn.execute(
            SAVE_SUBJECT,
            {
                "o": s.opportunity_id,
                "account": s.account_id,
                "owner": s.owner_id,
                "team": s.team,
                "region": s.region,
                "stage": s.stage,
                "status": s.status,
                "at": at,
            },
        )

    async def open_ids(self) -> list[str]:
        sql = text("SELECT opportunity_id FROM alert_opportunities WHERE status = 'open'")
        return [r.opportunity_id for r in await self._conn.execute(sql)]

    async def histories(
        self, until: datetime | None = None
    ) -> AsyncIterator[tuple[str, list[DomainEvent]]]:
        """Every opportunity's history (business order), one opportunity at a time."""
        sql = text(
            "SELECT opportunity_id, event_name, event_version, payload FROM alert_opportunity_events"
            " WHERE CAST(:until AS timestamptz) IS NULL OR occurred_at <= CAST(:until AS timestamptz)"
            " ORDER BY opportunity_id, occurred_at, seq"
        )
        current: str | None = None
        events: list[DomainEvent] = []
        async for r in await self._conn.stream(sql, {"until": until}):
            if r.opportunity_id != current and current is not None:
                yield current, events
                events = []
            current = r.opportunity_id
            events.append(self._registry.parse(r.event_name, r.event_version, r.payload))
        if current is not None:
            yield current, events

    async def enter_stage(self, s: Subject, stage: str, at: datetime) -> None:
        await self._conn.execute(
            text(
                "INSERT INTO alert_stage_stays (opportunity_id, stage, team, region, entered_at)"
                " VALUES (:o, :stage, :team, :region, :at) ON CONFLICT DO NOTHING"
            ),
            {"o": s.opportunity_id, "stage": stage, "team": s.team, "region": s.region, "at": at},
        )

    async def leave_stage(self, opportunity_id: str, at: datetime) -> None:
        await self._conn.execute(
            text(
                "UPDATE alert_stage_stays SET left_at = :at WHERE opportunity_id = :o"
                " AND left_at IS NULL AND entered_at <= :at"
            ),
            {"o": opportunity_id, "at": at},
        )

    async def medians(self, team: str, region: str) -> Medians:
        rows = await self._conn.execute(MEDIANS, {"team": team, "region": region})

        def days(seconds: float | None) -> float | None:
            return None if seconds is None else round(float(seconds) / 86_400, 1)

        return {r.stage: (days(r.team_s), days(r.region_s)) for r in rows}

    async def save_playbook(self, version: int, definition: PlaybookDefinition) -> None:
        await self._conn.execute(
            text(
                "INSERT INTO alert_playbooks (version, definition) VALUES (:v, CAST(:d AS jsonb))"
                " ON CONFLICT (version) DO NOTHING"
            ),
            {"v": version, "d": json.dumps(definition.model_dump(mode="json"))},
        )

    async def playbook(self, version: int | None) -> PlaybookDefinition | None:
        sql = text(
            "SELECT definition FROM alert_playbooks"
            " WHERE CAST(:v AS integer) IS NULL OR version = CAST(:v AS integer)"
            " ORDER BY version DESC LIMIT 1"
        )
        row = (await self._conn.execute(sql, {"v": version})).first()
        return PlaybookDefinition.model_validate(row.definition) if row else None

    async def save_member(self, m: Member, at: datetime) -> None:
        await self._conn.execute(
            SAVE_MEMBER,
            {
                "m": m.member_id,
                "role": m.role,
                "region": m.region,
                "team": m.team,
                "manager": m.manager_id,
                "at": at,
            },
        )

    async def save_health(self, e: HealthScoreComputed) -> None:
        """A rep's latest closed week (a later week, or a later revision of it, wins)."""
        await self._conn.execute(
            SAVE_HEALTH,
            {
                "m": e.scope_id,
                "week": e.week,
                "ends": e.week_ends_at,
                "revision": e.revision,
                "score": e.score,
                "components": json.dumps({c.key: c.value for c in e.components}),
            },
        )

    async def health(self, member_id: str) -> dict[str, float] | None:
        """The rep's latest score and its components, or None if scoring published none."""
        sql = text("SELECT score, components FROM alert_health WHERE member_id = :m")
        row = (await self._conn.execute(sql, {"m": member_id})).first()
        if row is None:
            return None
        found = {k: float(v) for k, v in dict(row.components).items()}
        return {**({"score": float(row.score)} if row.score is not None else {}), **found}

    async def below(self, member_id: str) -> list[str]:
        """The member and everyone who reports to them, directly or up a chain."""
        return [r.member_id for r in await self._conn.execute(BELOW, {"me": member_id})]
