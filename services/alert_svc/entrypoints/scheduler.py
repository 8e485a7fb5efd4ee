"""The deadline scheduler: a worker that raises alerts when the clock passes their due time.

Any number may run: each batch claims its rows with FOR UPDATE SKIP LOCKED and appends the
alert events in the same transaction, so a deadline fires once and a worker that dies
mid-batch leaves its rows pending for the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from services.alert_svc.application.alerts import fire_due
from services.alert_svc.application.uow import AlertUnitOfWork
from shared.clock import Clock
from shared.messaging.kafka import backoff

log = logging.getLogger(__name__)
BATCH = 200


class DeadlineScheduler:
    def __init__(
        self,
        uow_factory: Callable[[], AlertUnitOfWork],
        clock: Clock,
        interval_s: float = 1.0,
        batch: int = BATCH,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self.interval_s = interval_s
        self.batch = batch
        self.raised = 0

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                while (await self.tick())[0] == self.batch:
                    pass  # a full batch: more may be due right now
                attempt = 0
                await asyncio.sleep(await self._pause())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: try again later
                log.warning("deadline scheduler paused: %s: %s", type(exc).__name__, exc)
                attempt += 1
                await backoff(attempt)

    async def _pause(self) -> float:
        """Until the next deadline, at most the interval (new deadlines may come meanwhile)."""
        async with self._uow() as uow:
            nxt = await uow.tx.deadlines.next_due()
        if nxt is None:
            return self.interval_s
        wait = (nxt - self._clock.now()) / timedelta(seconds=1)
        return min(self.interval_s, max(0.01, wait))

    async def tick(self) -> tuple[int, int]:
        """Fire what is due now, in one transaction; returns (claimed, raised)."""
        async with self._uow() as uow:
            claimed, raised = await fire_due(uow.tx, self._clock.now(), self.batch)
            await uow.commit()
        self.raised += raised
        if raised:
            log.info("raised %d alert(s)", raised)
        return claimed, raised
