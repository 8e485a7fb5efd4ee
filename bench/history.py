"""Synthetic account history: the pipeline events a long-lived account accumulates.

Each deal is an `OpportunityOpened`, activities (calls, visits, demos, ...) and two stage
advances, DEAL_LENGTH events in all, spread over business time at a fixed mean spacing. The
events are real contract events in real envelopes, so they can be published as CloudEvents
(the consumer builds the timeline) or turned into the very rows the consumer would write.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import shared.contracts  # noqa: F401 - registers the event catalogue
from services.collab_svc.application.timeline import entry_for
from shared.contracts import pipeline as pv
from shared.events.base import DomainEvent
from shared.events.envelope import Envelope, Metadata

REGION = "east"
DEAL_LENGTH = 20
#: positions inside a deal that are stage advances (the others after 0 are activities)
ADVANCES = {7: ("lead", "initial_contact"), 14: ("initial_contact", "needs_confirmed")}
KINDS = ("call", "email", "visit", "meeting", "demo", "interview", "note")
CONTACTS = ("cto@acme.example", "+86 21 5555 0101", "procurement@acme.example")
OBJECTIONS = ("price above budget", "integration with the legacy MES", "delivery lead time")
SPACING = timedelta(minutes=15)
#: the columns of timeline_entries the consumer fills (seq is an identity)
COLUMNS = ("event_id", "account_id", "group_id", "kind", "region", "actor", "occurred_at", "data")


def _event(account_id: str, deal: str, j: int, at: datetime, rng: random.Random) -> DomainEvent:
    base: dict[str, Any] = {"opportunity_id": deal, "account_id": account_id, "occurred_at": at}
    if j == 0:
        return pv.OpportunityOpened(
            **base,
            title=f"Line retrofit {deal[-6:]}",
            owner_id="bench-rep-east",
            region=REGION,
            team="east-1",
            amount=Decimal("125000.00"),
            currency="CNY",
            expected_close_date=(at + timedelta(days=120)).date(),
            stage="lead",
            playbook_version=1,
            lead_source="trade fair",
        )
    if j in ADVANCES:
        before, after = ADVANCES[j]
        return pv.StageAdvanced(
            **base,
            from_stage=before,
            to_stage=after,
            playbook_version=1,
            days_in_previous_stage=round(rng.uniform(2, 40), 1),
        )
    kind = KINDS[rng.randrange(len(KINDS))]
    raised = [OBJECTIONS[rng.randrange(len(OBJECTIONS))]] if rng.random() < 0.3 else []
    return pv.ActivityLogged(
        **base,
        activity_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        kind=kind,
        customer_facing=kind != "note",
        stage="lead" if j < 7 else "initial_contact" if j < 14 else "needs_confirmed",
        actor_id="bench-rep-east",
        actor_region=REGION,
        contacts=[CONTACTS[rng.randrange(len(CONTACTS))]],
        summary=f"{kind} #{j} on {deal[-6:]}: walked through the retrofit plan and the budget.",
        objections_raised=raised,
        objections_resolved=raised if rng.random() < 0.5 else [],
        next_step="Send the revised proposal with the maintenance plan by Friday.",
    )


def envelopes(account_id: str, count: int, end: datetime, seed: int = 7) -> Iterator[Envelope]:
    """`count` events of `account_id` in business-time order, the last one just before `end`."""
    rng = random.Random(f"{seed}:{account_id}")
    start = end - SPACING * (count + 1)
    deal = ""
    for i in range(count):
        j = i % DEAL_LENGTH
        if j == 0:
            deal = f"opp-{account_id}-{i // DEAL_LENGTH:06d}"
        at = start + SPACING * i + timedelta(seconds=rng.uniform(0, SPACING.total_seconds() / 2))
        yield Envelope(
            event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            stream_id=f"opportunity-{deal}",
            stream_type="opportunity",
            version=j + 1,
            event=_event(account_id, deal, j, at, rng),
            recorded_at=at,
            key=account_id,
            metadata=Metadata(actor="bench-rep-east", region=REGION),
        )


def row(env: Envelope, group_id: str | None = None) -> tuple[Any, ...]:
    """The timeline_entries row the collab consumer writes for `env` (its own `entry_for`)."""
    entry = entry_for(env)
    if entry is None:
        raise ValueError(f"{env.name} makes no timeline entry")
    data = json.dumps(entry.data, ensure_ascii=False)
    return (
        entry.event_id,
        entry.account_id,
        group_id,
        entry.kind,
        entry.region,
        entry.actor,
        entry.occurred_at,
        data,
    )
