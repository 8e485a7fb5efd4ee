"""The dispatcher: each consumed event becomes a pending delivery per matching subscription.

It runs inside the consumer runner's transaction, so the deliveries commit with the inbox row:
a redelivered event finds its inbox row and adds nothing, and the unique (subscription, event)
makes even a second pass harmless.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.webhooks.adapters.body import structured
from services.alert_svc.webhooks.adapters.deliveries import Deliveries
from services.alert_svc.webhooks.adapters.subscriptions import Subscriptions
from services.alert_svc.webhooks.domain.subscriptions import event_region, matches
from shared.clock import Clock
from shared.events.envelope import Envelope


class Dispatcher:
    def __init__(self, clock: Clock, max_attempts: int) -> None:
        self._clock = clock
        self._max_attempts = max_attempts

    async def handle(self, conn: AsyncConnection, envelope: Envelope) -> None:
        region = event_region(envelope.event.payload(), envelope.metadata.region)
        targets = [
            s.subscription_id
            for s in await Subscriptions(conn).all()
            if matches(s, envelope.name, region)
        ]
        if not targets:
            return
        await Deliveries(conn).record(
            str(envelope.event_id),
            envelope.name,
            region,
            structured(envelope),
            targets,
            self._max_attempts,
            self._clock.now(),
        )
