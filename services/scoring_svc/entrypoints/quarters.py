"""The quarter scheduler: at each quarter's start, the forecast as of that instant is published."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.scoring_svc.adapters.facts import FactCache
from services.scoring_svc.application import scoring_model
from services.scoring_svc.application.forecast import forecast_as_of
from services.scoring_svc.application.uow import ScoringUnitOfWork
from services.scoring_svc.domain import calendar
from services.scoring_svc.domain.kpis import Scope
from services.scoring_svc.domain.ledger import Ledger
from services.scoring_svc.entrypoints.scheduler import Periodic
from shared.clock import Clock
from shared.contracts.scoring import ForecastPublished
from shared.events.envelope import Metadata, NewEvent

log = logging.getLogger(__name__)
WATERMARK = "forecast-quarter"


class QuarterStartScheduler(Periodic):
    """Starts watching at the quarter in force when it first runs (no backfill of history)."""

    def __init__(
        self,
        facts: FactCache,
        uow_factory: Callable[[], ScoringUnitOfWork],
        clock: Clock,
        tz: ZoneInfo,
        interval_s: float = 5.0,
    ) -> None:
        self._facts = facts
        self._uow = uow_factory
        self._clock = clock
        self._tz = tz
        self.interval_s = interval_s

    async def tick(self) -> str | None:
        current = calendar.quarter_of(self._clock.now(), self._tz)
        async with self._uow() as uow:
            seen = await uow.scores.watermark(WATERMARK)
            if seen is None or calendar.quarter(seen, self._tz).start >= current.start:
                if seen is None:
                    await uow.scores.set_watermark(WATERMARK, current.label)
                    await uow.commit()
                return None
            q = calendar.quarter_of(calendar.quarter(seen, self._tz).end, self._tz)
            model = await scoring_model.current(uow)
            ledger = Ledger.build(await self._facts.events(before=q.start))
            regions = sorted({d.region for d in ledger.deals.values()})
            scopes = [None, *regions]
            bodies = [
                await asyncio.to_thread(
                    forecast_as_of, ledger, model, q, Scope(region=r), q.start, self._tz
                )
                for r in scopes
            ]
            body = {str(r or "all"): b for r, b in zip(scopes, bodies, strict=True)}
            if await uow.scores.save_forecast(q.label, body, self._clock.now()):
                events = [
                    NewEvent(
                        ForecastPublished(
                            occurred_at=q.start,
                            quarter=q.label,
                            as_of=q.start,
                            region=r,
                            stage_weighted=Decimal(str(b["stage_weighted"]["amount"])),
                            behaviour_based=Decimal(str(b["behaviour_based"]["amount"])),
                            method_note=b["behaviour_based"]["note"],
                            deals=len(b["deals"]),
                        ),
                        key=r or "all",
                    )
                    for r, b in zip(scopes, bodies, strict=True)
                ]
                await uow.events.append(
                    f"forecast-{q.label}", "forecast", 0, events, Metadata(actor="system")
                )
            await uow.scores.set_watermark(WATERMARK, q.label)
            await uow.commit()
        log.info("published the forecast of %s", q.label)
        return q.label
