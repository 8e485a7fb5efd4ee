"""Alert handlers: fire due deadlines, resolve alerts whose condition cleared, people's
acknowledgements and resolutions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.alert_svc.adapters.deadlines import Deadline
from services.alert_svc.adapters.rules import StoredRule
from services.alert_svc.application.uow import Stores
from services.alert_svc.domain import permissions, report, routing
from services.alert_svc.domain.alert import STREAM_TYPE, Alert, stream_id
from services.alert_svc.domain.errors import AlertNotFoundError
from services.alert_svc.domain.timer import in_business_order
from shared.context import Context
from shared.contracts import alert as av
from shared.events.base import DomainEvent
from shared.events.envelope import Metadata, NewEvent
from shared.observability import EVENTS_APPENDED

#: alert ids derive from (rule, subject, timer start): a second firing of one timer clashes
ALERT_IDS = uuid.UUID("5e1c0a1e-7a1e-4d0b-9c55-a1e27a1e27a1")
SYSTEM = "system"


def alert_id_for(d: Deadline) -> str:
    return str(uuid.uuid5(ALERT_IDS, f"{d.rule_id}|{d.opportunity_id}|{d.started_at.isoformat()}"))


async def _append(
    tx: Stores, stream: str, kind: str, expected: int, event: DomainEvent, key: str, meta: Metadata
) -> None:
    await tx.events.append(stream, kind, expected, [NewEvent(event, key=key)], meta)
    EVENTS_APPENDED.labels("alert", event.event_name).inc()


async def load(tx: Stores, alert_id: str) -> Alert:
    alert = Alert.fold(alert_id, [e.event for e in await tx.events.load(stream_id(alert_id))])
    if not alert.exists:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return alert


def _raised(
    d: Deadline, rule: StoredRule, subject: dict[str, Any], to: list[str], now: datetime
) -> av.AlertRaised:
    definition = rule.definition
    alert_id = alert_id_for(d)
    report_id = (
        str(uuid.uuid5(ALERT_IDS, f"report|{alert_id}"))
        if definition.action == "risk_report"
        else None
    )
    return av.AlertRaised(
        occurred_at=now,
        alert_id=alert_id,
        opportunity_id=d.opportunity_id,
        account_id=subject["account_id"],
        region=subject["region"],
        team=subject["team"],
        owner_id=subject["owner_id"],
        rule_id=d.rule_id,
        rule_version=rule.version,
        rule_name=definition.name,
        message=definition.message,
        recipients=to,
        routed_to=definition.route_to,
        severity=definition.severity,
        action=definition.action,
        started_at=d.started_at,
        due_at=d.due_at,
        raised_at=now,
        report_id=report_id,
    )


async def generate_report(
    tx: Stores, raised: av.AlertRaised, report_id: str, now: datetime, meta: Metadata
) -> None:
    history = in_business_order(await tx.subjects.history(raised.opportunity_id))
    opened = next((e for e in history if e.event_name == "OpportunityOpened"), None)
    playbook = await tx.subjects.playbook(getattr(opened, "playbook_version", None))
    content = report.build(
        history,
        now,
        playbook=playbook,
        medians=await tx.subjects.medians(raised.team, raised.region),
        health=await tx.subjects.health(raised.owner_id),
    )
    event = av.RiskReportGenerated(
        occurred_at=now,
        report_id=report_id,
        opportunity_id=raised.opportunity_id,
        account_id=raised.account_id,
        region=raised.region,
        team=raised.team,
        rule_id=raised.rule_id,
        alert_id=raised.alert_id,
        recipients=raised.recipients,
        generated_at=now,
        report=content,
    )
    await _append(tx, f"report-{report_id}", "report", 0, event, raised.account_id, meta)
    await tx.reports.save(event)


async def fire_due(tx: Stores, now: datetime, limit: int) -> tuple[int, int]:
    """Claim due deadlines (SKIP LOCKED) and raise their alerts, set-based, in the caller's
    transaction; returns (claimed, raised). A deadline whose rule is gone or disabled, or whose
    deal is closed, is cancelled instead."""
    claimed = await tx.deadlines.claim_due(now, limit)
    if not claimed:
        return 0, 0
    rules = {rule_id: await tx.rules.get(rule_id) for rule_id in {d.rule_id for d in claimed}}
    subjects = await tx.firings.subjects([d.opportunity_id for d in claimed])
    directory = await tx.firings.directory(
        sorted({s["owner_id"] for s in subjects.values()}),
        sorted({s["team"] for s in subjects.values()}),
        sorted({s["region"] for s in subjects.values()}),
    )
    planned: list[tuple[Deadline, av.AlertRaised]] = []
    dropped: list[tuple[Deadline, str | None]] = []
    for d in claimed:
        rule, subject = rules[d.rule_id], subjects.get(d.opportunity_id)
        if rule is None or not rule.enabled or subject is None or subject["status"] != "open":
            dropped.append((d, None))
            continue
        to = routing.recipients(
            rule.definition.route_to,
            subject["owner_id"],
            subject["team"],
            subject["region"],
            directory,
        )
        planned.append((d, _raised(d, rule, subject, to, now)))
    await tx.firings.set_state("cancelled", dropped, None)
    meta = {
        e.alert_id: Metadata(actor=SYSTEM, region=e.region, correlation_id=e.alert_id)
        for _, e in planned
    }
    appended = await tx.firings.append_raised([e for _, e in planned], now, meta)
    new = [e for _, e in planned if e.alert_id in appended]  # the others fired before
    EVENTS_APPENDED.labels("alert", av.AlertRaised.event_name).inc(len(new))
    await tx.alerts.raised(new)
    for e in new:
        if e.report_id is not None:
            await generate_report(tx, e, e.report_id, now, meta[e.alert_id])
    await tx.firings.set_state("fired", [(d, e.alert_id) for d, e in planned], now)
    return len(claimed), len(new)


async def resolve_open(
    tx: Stores,
    rule_id: str,
    opportunity_id: str,
    reason_for: Callable[[datetime], str],
    cause: Metadata,
    at: datetime,
) -> int:
    """Resolve by itself every open alert of the rule on the subject; returns how many."""
    done = 0
    for alert_id in await tx.alerts.open_ids(rule_id, opportunity_id):
        alert = await load(tx, alert_id)
        if not alert.open or alert.raised is None:
            continue
        events = alert.resolve(reason_for(alert.raised.due_at), at)
        await _record(tx, alert, events, cause)
        done += 1
    return done


async def _record(tx: Stores, alert: Alert, events: list[DomainEvent], meta: Metadata) -> None:
    assert alert.raised is not None
    for e in events:
        await _append(
            tx,
            stream_id(alert.alert_id),
            STREAM_TYPE,
            alert.version,
            e,
            alert.raised.account_id,
            meta,
        )
        alert.apply(e)
    if events:
        await tx.alerts.changed(alert)


async def _visible(tx: Stores, alert_id: str, ctx: Context) -> Alert:
    permissions.require_reader(ctx.actor)
    alert = await load(tx, alert_id)
    assert alert.raised is not None
    r = alert.raised
    below = await tx.subjects.below(ctx.actor.sub)
    if not permissions.may_see(ctx.actor, r.region, r.team, r.recipients, below):
        raise AlertNotFoundError(f"no alert {alert_id}")  # no hint that it exists elsewhere
    return alert


async def acknowledge(tx: Stores, alert_id: str, comment: str, ctx: Context) -> Alert:
    alert = await _visible(tx, alert_id, ctx)
    await _record(tx, alert, alert.acknowledge(ctx.actor.sub, comment, ctx.now), ctx.metadata)
    return alert


async def resolve(tx: Stores, alert_id: str, reason: str, comment: str, ctx: Context) -> Alert:
    alert = await _visible(tx, alert_id, ctx)
    events = alert.resolve(reason, ctx.now, by=ctx.actor.sub, comment=comment)
    await _record(tx, alert, events, ctx.metadata)
    return alert
