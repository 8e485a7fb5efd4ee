"""Rule handlers: define, change, disable, enable (admins), seeding, re-planning open subjects."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from services.alert_svc.adapters.rules import StoredRule
from services.alert_svc.application.uow import Stores
from services.alert_svc.domain import permissions
from services.alert_svc.domain.errors import RuleExistsError, RuleNotFoundError
from services.alert_svc.domain.seed import SEED_RULES
from services.alert_svc.domain.timer import Firing, replan, simulate
from shared.context import Context
from shared.contracts import alert as av
from shared.contracts.rules import RuleDefinition
from shared.errors import ConcurrencyError, PreconditionFailedError
from shared.events.base import DomainEvent
from shared.events.envelope import Metadata, NewEvent
from shared.observability import EVENTS_APPENDED

log = logging.getLogger(__name__)
STREAM_TYPE = "rule"


def stream_id(rule_id: str) -> str:
    return f"rule-{rule_id}"


@dataclass(frozen=True)
class RuleOutcome:
    view: dict[str, object]
    version: int


async def _record(
    tx: Stores, rule_id: str, expected: int, event: DomainEvent, metadata: Metadata
) -> None:
    await tx.events.append(stream_id(rule_id), STREAM_TYPE, expected, [NewEvent(event)], metadata)
    EVENTS_APPENDED.labels("alert", event.event_name).inc()


async def _existing(tx: Stores, rule_id: str) -> StoredRule:
    rule = await tx.rules.get(rule_id)
    if rule is None:
        raise RuleNotFoundError(f"no rule {rule_id}")
    return rule


async def define(tx: Stores, rule_id: str, definition: RuleDefinition, ctx: Context) -> RuleOutcome:
    permissions.require_admin(ctx.actor)
    if await tx.rules.get(rule_id) is not None:
        raise RuleExistsError(f"rule {rule_id} exists already; PUT /rules/{rule_id} changes it")
    event = av.RuleDefined(
        rule_id=rule_id, definition=definition, actor_id=ctx.actor.sub, occurred_at=ctx.now
    )
    await _record(tx, rule_id, 0, event, ctx.metadata)
    rule = StoredRule(rule_id, definition, True, 1, ctx.now)
    await tx.rules.save(rule)
    await replan_open(tx, rule)
    return RuleOutcome(rule.view(), rule.version)


async def change(tx: Stores, rule_id: str, definition: RuleDefinition, ctx: Context) -> RuleOutcome:
    permissions.require_admin(ctx.actor)
    old = await _existing(tx, rule_id)
    _check_version(ctx, old)
    event = av.RuleChanged(
        rule_id=rule_id, definition=definition, actor_id=ctx.actor.sub, occurred_at=ctx.now
    )
    await _record(tx, rule_id, old.version, event, ctx.metadata)
    rule = StoredRule(rule_id, definition, old.enabled, old.version + 1, ctx.now)
    await tx.rules.save(rule)
    if rule.enabled:
        await replan_open(tx, rule)
    return RuleOutcome(rule.view(), rule.version)


async def set_enabled(tx: Stores, rule_id: str, enabled: bool, ctx: Context) -> RuleOutcome:
    permissions.require_admin(ctx.actor)
    old = await _existing(tx, rule_id)
    _check_version(ctx, old)
    if old.enabled == enabled:
        return RuleOutcome(old.view(), old.version)
    cls = av.RuleEnabled if enabled else av.RuleDisabled
    event = cls(rule_id=rule_id, actor_id=ctx.actor.sub, occurred_at=ctx.now)
    await _record(tx, rule_id, old.version, event, ctx.metadata)
    rule = StoredRule(rule_id, old.definition, enabled, old.version + 1, ctx.now)
    await tx.rules.save(rule)
    if enabled:
        await replan_open(tx, rule)
    else:
        await tx.deadlines.cancel_rule(rule_id)
    return RuleOutcome(rule.view(), rule.version)


def _check_version(ctx: Context, rule: StoredRule) -> None:
    if ctx.expected_version is not None and ctx.expected_version != rule.version:
        raise PreconditionFailedError(
            f"If-Match expects version {ctx.expected_version}; the rule is at {rule.version}",
            current_version=rule.version,
        )


async def replan_open(tx: Stores, rule: StoredRule) -> int:
    """Re-plan the rule's deadline on every open subject from its history; returns how many
    are pending. A timer that already fired for the same start does not fire again."""
    pending = 0
    for opportunity_id in await tx.subjects.open_ids():
        await tx.subjects.lock(opportunity_id)
        timer = replan(rule.definition, opportunity_id, await tx.subjects.history(opportunity_id))
        current = await tx.deadlines.for_update(rule.rule_id, opportunity_id)
        if timer is None:
            await tx.deadlines.cancel(rule.rule_id, opportunity_id)
            continue
        if current and current.state == "fired" and current.started_at == timer.started_at:
            continue
        await tx.deadlines.plan(
            rule.rule_id, opportunity_id, rule.version, timer.started_at, timer.due_at
        )
        pending += 1
    return pending


async def seed(tx: Stores, now: datetime) -> list[str]:
    """Define the seed rules that were never defined (a rule's stream exists once defined)."""
    created = []
    meta = Metadata(actor="system")
    for rule_id, definition in SEED_RULES.items():
        if await tx.events.load(stream_id(rule_id)):
            continue
        event = av.RuleDefined(
            rule_id=rule_id, definition=definition, actor_id="system", occurred_at=now
        )
        try:
            await _record(tx, rule_id, 0, event, meta)
        except ConcurrencyError:
            continue  # another replica seeded it meanwhile
        rule = StoredRule(rule_id, definition, True, 1, now)
        await tx.rules.save(rule)
        await replan_open(tx, rule)
        created.append(rule_id)
    return created


async def simulate_rule(
    tx: Stores, definition: RuleDefinition, as_of: datetime, limit: int = 1000
) -> tuple[list[Firing], int]:
    """Which opportunities the rule would have fired on by `as_of`, from the consumed history."""
    firings: list[Firing] = []
    subjects = 0
    async for opportunity_id, events in tx.subjects.histories(until=as_of):
        subjects += 1
        firings.extend(simulate(definition, opportunity_id, events, as_of))
    firings.sort(key=lambda f: (f.due_at, f.opportunity_id))
    return firings[:limit], subjects
