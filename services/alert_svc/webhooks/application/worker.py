"""The delivery worker: sends due deliveries, records each attempt, schedules the retries.

Any number may run (one per worker replica). A batch is claimed with FOR UPDATE SKIP LOCKED
and its rows stay locked until the outcomes commit, so no delivery is sent by two workers at
once; a worker that dies mid-batch leaves its rows due, and another sends them again (the
receiver dedupes on webhook-id). NOTIFY wakes the workers for new and replayed deliveries;
retries are found by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import asyncpg
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from services.alert_svc.webhooks.adapters.deliveries import CHANNEL, Deliveries
from services.alert_svc.webhooks.adapters.sender import WebhookSender
from services.alert_svc.webhooks.domain.retries import RetryPolicy, after_attempt, succeeded
from shared.clock import Clock
from shared.messaging.kafka import backoff
from shared.messaging.relay import asyncpg_dsn

log = logging.getLogger(__name__)
BATCH = 20
ATTEMPTS = Counter(
    "sightline_webhook_attempts_total",
    "Webhook delivery attempts by outcome (delivered, retry, failed)",
    ["outcome"],
)


class DeliveryWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        database_url: str,
        sender: WebhookSender,
        policy: RetryPolicy,
        clock: Clock,
        poll_interval_s: float,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._engine = engine
        self._dsn = asyncpg_dsn(database_url)
        self._sender = sender
        self._policy = policy
        self._clock = clock
        self._interval = poll_interval_s
        self._jitter = jitter
        self._wake = asyncio.Event()
        #: set once the worker listens for NOTIFY and has looked for due work
        self.listening = asyncio.Event()

    async def run(self) -> None:
        attempt = 0
        try:
            while True:
                try:
                    await self._listen_and_work()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database away: try again later
                    log.warning("webhook delivery paused: %s: %s", type(exc).__name__, exc)
                    attempt += 1
                    await backoff(attempt)
        finally:
            await self._sender.aclose()

    async def _listen_and_work(self) -> None:
        listener = await asyncpg.connect(self._dsn)
        try:
            await listener.add_listener(CHANNEL, self._notified)
            while True:
                self._wake.clear()
                while await self.tick() == BATCH:
                    pass  # a full batch: more may be due right now
                self.listening.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await listener.close(timeout=2)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def tick(self) -> int:
        """Send what is due now, in one transaction; returns how many deliveries were tried."""
        async with self._engine.begin() as conn:
            deliveries = Deliveries(conn)
            now = self._clock.now()
            due = await deliveries.claim_due(now, BATCH)
            results = await asyncio.gather(*(self._sender.send(out, now) for out in due))
            for out, result in zip(due, results, strict=True):
                nxt = after_attempt(
                    self._policy,
                    out.attempts + 1,
                    out.give_up_after,
                    succeeded(result.status_code),
                    self._clock.now(),
                    self._jitter(),
                )
                await deliveries.save_attempt(out, result, nxt, now)
                ATTEMPTS.labels("retry" if nxt.status == "pending" else nxt.status).inc()
                if nxt.status == "failed":
                    log.warning("webhook delivery %s gave up: %s", out.delivery_id, result.error)
        return len(due)
