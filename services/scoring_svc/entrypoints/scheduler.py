"""The publication scheduler: when the clock passes a week's end, that week's scores are published.

It starts watching from the week that last closed when it first ran: history imported with
backdated business time is scored live until an admin asks for a recompute, which publishes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from services.scoring_svc.application import scoring_model
from services.scoring_svc.application.health import HealthScores
from services.scoring_svc.application.uow import ScoringUnitOfWork
from services.scoring_svc.domain import calendar
from shared.clock import Clock
from shared.messaging.kafka import backoff

log = logging.getLogger(__name__)
WATERMARK = "health-week"


class Periodic:
    """A worker loop: `tick()` until it has nothing to do, then sleep; back off on faults."""

    interval_s: float = 5.0

    async def tick(self) -> str | None:
        raise NotImplementedError

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                while await self.tick():
                    pass  # published one week: the next may be due as well
                attempt = 0
                await asyncio.sleep(self.interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: try again later
                log.warning("%s paused: %s: %s", type(self).__name__, type(exc).__name__, exc)
                attempt += 1
                await backoff(attempt)


class WeekCloseScheduler(Periodic):
    """Any number may run: the watermark row is locked, each publication claimed once."""

    def __init__(
        self,
        health: HealthScores,
        uow_factory: Callable[[], ScoringUnitOfWork],
        clock: Clock,
        interval_s: float = 5.0,
    ) -> None:
        self._health = health
        self._uow = uow_factory
        self._clock = clock
        self.interval_s = interval_s

    async def tick(self) -> str | None:
        """Publish the oldest closed week after the watermark; returns its label, if any."""
        current = calendar.week_of(self._clock.now(), self._health.tz)
        last_closed = calendar.week_of(current.start - timedelta(seconds=1), self._health.tz)
        async with self._uow() as uow:
            seen = await uow.scores.watermark(WATERMARK)
            if seen is None:
                await uow.scores.set_watermark(WATERMARK, last_closed.label)
                await uow.commit()
                return None
            following = self._health.week(seen).end
            if following >= current.start:
                return None
            label = calendar.week_of(following, self._health.tz).label
            model = await scoring_model.current(uow)
            revision = await self._health.publish(uow, label, model)
            await uow.scores.set_watermark(WATERMARK, label)
            await uow.commit()
        log.info("published health scores of %s (revision %s)", label, revision)
        return label
