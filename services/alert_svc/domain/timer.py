"""Timer arithmetic of a rule: start, reset, cancel; due = start + after; fold and simulate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.alert_svc.domain.subject import Subject
from shared.contracts import pipeline as pv
from shared.contracts.rules import RuleDefinition
from shared.events.base import DomainEvent

#: why an open alert resolved itself, by the event that cleared its condition
REASONS: dict[str, str] = {
    "ActivityLogged": "customer contact logged",
    "StageAdvanced": "stage advanced",
    "OpportunityWon": "opportunity won",
    "OpportunityLost": "opportunity lost",
    "OpportunityOpened": "opportunity reopened",
}
LATE = "contact logged late"


@dataclass(frozen=True)
class Timer:
    """A running timer: started by the event at `started_at`, due at `due_at` (business time)."""

    started_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class Step:
    """What one event does to a rule's timer on one subject."""

    timer: Timer | None
    #: the event cleared the rule's condition: open alerts of the rule on the subject resolve
    cleared: bool
    changed: bool


def step(rule: RuleDefinition, running: Timer | None, subject: Subject, event: DomainEvent) -> Step:
    """`subject` is the state after `event`. A cancel applies first, then a (re)start, so an
    event may both end one timer and begin the next (leaving a stage, entering another). A
    running timer also ends when the subject stops satisfying the rule's `when`."""
    at = event.occurred_at
    if running is not None and at < running.started_at:
        return Step(running, cleared=False, changed=False)  # older than the running timer
    cancels = any(m.matches(event) for m in rule.cancel_on)
    starts = any(m.matches(event) for m in rule.start_on)
    resets = running is not None and any(m.matches(event) for m in rule.reset_on)
    watched = subject.satisfies(rule.when)
    if (starts or resets) and watched:
        return Step(Timer(at, at + rule.duration), cleared=True, changed=True)
    if cancels or starts or resets or (running is not None and not watched):
        # cancelled, or the deal no longer is what the rule watches (e.g. it left the stages in
        # `when`): a running timer ends
        return Step(None, cleared=True, changed=running is not None)
    return Step(running, cleared=False, changed=False)


def resolution_reason(event: DomainEvent, due_at: datetime) -> str:
    """A contact whose business time is before the alert's due time was logged late."""
    if isinstance(event, pv.ActivityLogged) and event.occurred_at < due_at:
        return LATE
    reason = REASONS.get(event.event_name, f"{event.event_name} cleared the condition")
    if isinstance(event, pv.ActivityLogged) and event.kind == "interview":
        reason = "interview held"
    return reason


def in_business_order(events: Iterable[DomainEvent]) -> list[DomainEvent]:
    """Stable: events at the same instant keep their stored order."""
    return sorted(events, key=lambda e: e.occurred_at)


def replan(
    rule: RuleDefinition, opportunity_id: str, events: Iterable[DomainEvent]
) -> Timer | None:
    """The timer a rule has running on a subject after its whole history (a rule change)."""
    subject = Subject(opportunity_id)
    running: Timer | None = None
    for event in in_business_order(events):
        subject.apply(event)
        running = step(rule, running, subject, event).timer
    return running


@dataclass(frozen=True)
class Firing:
    opportunity_id: str
    started_at: datetime
    due_at: datetime


def simulate(
    rule: RuleDefinition, opportunity_id: str, events: Iterable[DomainEvent], as_of: datetime
) -> list[Firing]:
    """When the rule would have fired on a subject by `as_of`, replaying its business history."""
    subject = Subject(opportunity_id)
    running: Timer | None = None
    fired: list[Firing] = []
    for event in in_business_order(e for e in events if e.occurred_at <= as_of):
        if running is not None and running.due_at <= event.occurred_at:
            fired.append(Firing(opportunity_id, running.started_at, running.due_at))
            running = None
        subject.apply(event)
        running = step(rule, running, subject, event).timer
    if running is not None and running.due_at <= as_of:
        fired.append(Firing(opportunity_id, running.started_at, running.due_at))
    return fired
