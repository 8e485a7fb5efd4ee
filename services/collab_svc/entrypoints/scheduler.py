"""The grant expiry scheduler: a worker that appends ContactGrantExpired when grants run out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from services.collab_svc.application.contacts import expire_due
from services.collab_svc.application.uow import CollabUnitOfWork
from shared.clock import Clock
from shared.events.envelope import Metadata
from shared.messaging.kafka import backoff

log = logging.getLogger(__name__)
BATCH = 100


class GrantExpiryScheduler:
    """Any number may run (one per worker replica): rows are claimed with SKIP LOCKED."""

    def __init__(
        self,
        uow_factory: Callable[[], CollabUnitOfWork],
        clock: Clock,
        interval_s: float = 5.0,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self.interval_s = interval_s

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                while await self.tick() == BATCH:
                    pass  # a full batch: more may be due right now
                attempt = 0
                await asyncio.sleep(self.interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: try again later
                log.warning("grant expiry paused: %s: %s", type(exc).__name__, exc)
                attempt += 1
                await backoff(attempt)

    async def tick(self) -> int:
        """Expire what is due now, in one transaction; returns how many grants expired."""
        async with self._uow() as uow:
            expired = await expire_due(
                uow, self._clock.now(), Metadata(actor="system", region=None), BATCH
            )
            await uow.commit()
        if expired:
            log.info("expired %d contact grant(s)", expired)
        return expired
