"""Consumer handlers: pipeline events move the subjects' timers; collab events keep the directory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.adapters.rules import StoredRule
from services.alert_svc.application.alerts import resolve_open
from services.alert_svc.application.uow import Stores
from services.alert_svc.domain.routing import Member
from services.alert_svc.domain.subject import Subject
from services.alert_svc.domain.timer import Timer, in_business_order, resolution_reason, step
from shared.clock import Clock
from shared.contracts import collab as cv
from shared.contracts import pipeline as pv
from shared.contracts import scoring as sc
from shared.contracts.pipeline import PIPELINE_EVENT_NAMES
from shared.events.base import DomainEvent
from shared.events.envelope import Envelope, Metadata
from shared.events.registry import EventRegistry

PIPELINE_EVENTS = PIPELINE_EVENT_NAMES
ORG_EVENTS = ("MemberAssigned",)
SCORING_EVENTS = ("HealthScoreComputed",)


def fold(opportunity_id: str, events: list[DomainEvent], until: datetime | None = None) -> Subject:
    subject = Subject(opportunity_id)
    for e in events:
        if until is None or e.occurred_at <= until:
            subject.apply(e)
    return subject


class Projector:
    """The handlers of the `alert-pipeline`, `alert-org` and `alert-scoring` consumer groups."""

    def __init__(self, registry: EventRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock

    def _stores(self, conn: AsyncConnection) -> Stores:
        return Stores.on(conn, self._registry, self._clock)

    async def on_org(self, conn: AsyncConnection, env: Envelope) -> None:
        e = env.event
        if isinstance(e, cv.MemberAssigned):
            member = Member(e.member_id, e.role, e.region_id, e.team_id, e.manager_id)
            await self._stores(conn).subjects.save_member(member, e.occurred_at)

    async def on_scoring(self, conn: AsyncConnection, env: Envelope) -> None:
        e = env.event
        if isinstance(e, sc.HealthScoreComputed) and e.scope == "rep":
            await self._stores(conn).subjects.save_health(e)

    async def on_pipeline(self, conn: AsyncConnection, env: Envelope) -> None:
        e = env.event
        tx = self._stores(conn)
        if isinstance(e, pv.PlaybookPublished):
            await tx.subjects.save_playbook(e.playbook_version, e.definition)
            return
        if not isinstance(e, pv.OpportunityEvent):
            return
        opportunity_id = e.opportunity_id
        await tx.subjects.lock(opportunity_id)
        await tx.subjects.add_event(opportunity_id, env.event_id, e)
        history = in_business_order(await tx.subjects.history(opportunity_id))
        now_state = fold(opportunity_id, history)
        await tx.subjects.save(now_state, self._clock.now())
        at_event = fold(opportunity_id, history, e.occurred_at)
        await self._stays(tx, e, at_event)
        cause = Metadata(
            actor="system",
            region=now_state.region,
            correlation_id=env.metadata.correlation_id,
            causation_id=str(env.event_id),
        )
        for rule in await tx.rules.all(enabled_only=True):
            await self._apply(tx, rule, at_event, e, cause)

    async def _stays(self, tx: Stores, e: DomainEvent, subject: Subject) -> None:
        if isinstance(e, pv.OpportunityOpened):
            await tx.subjects.enter_stage(subject, e.stage, e.occurred_at)
        elif isinstance(e, pv.StageAdvanced | pv.OpportunityWon | pv.OpportunityLost):
            await tx.subjects.leave_stage(subject.opportunity_id, e.occurred_at)
            if isinstance(e, pv.StageAdvanced):
                await tx.subjects.enter_stage(subject, e.to_stage, e.occurred_at)

    async def _apply(
        self, tx: Stores, rule: StoredRule, subject: Subject, e: DomainEvent, cause: Metadata
    ) -> None:
        d = await tx.deadlines.for_update(rule.rule_id, subject.opportunity_id)
        running = Timer(d.started_at, d.due_at) if d and d.state == "pending" else None
        if d and d.state == "fired" and e.occurred_at < d.started_at:
            return  # older than the timer that fired: it changes nothing
        result = step(rule.definition, running, subject, e)
        if result.timer is not None and result.timer != running:
            await tx.deadlines.plan(
                rule.rule_id,
                subject.opportunity_id,
                rule.version,
                result.timer.started_at,
                result.timer.due_at,
            )
        elif result.timer is None and running is not None:
            await tx.deadlines.cancel(rule.rule_id, subject.opportunity_id)
        if result.cleared:
            await resolve_open(
                tx,
                rule.rule_id,
                subject.opportunity_id,
                lambda due: resolution_reason(e, due),
                cause,
                self._clock.now(),
            )
