"""Dead letters flagged for replay (`sightline dead-letters replay`), applied again by the
consumer that parked them, through its inbox and with the handlers of the running code."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.events.envelope import Envelope
from shared.messaging import deadletters
from shared.messaging.batch import Decode, Handler
from shared.messaging.faults import StallError, is_transient

log = logging.getLogger(__name__)
AfterApply = Callable[[AsyncConnection], Awaitable[None]]
#: applies one event through the inbox, then `after` in the same transaction
Apply = Callable[[Handler, Envelope, AfterApply | None], Awaitable[str]]


class Replays:
    def __init__(
        self,
        engine: AsyncEngine,
        consumer: str,
        decode: Decode,
        apply: Apply,
        database_healthy: Callable[[], Awaitable[bool]],
    ) -> None:
        self._engine = engine
        self._consumer = consumer
        self._decode = decode
        self._apply = apply
        self._database_healthy = database_healthy

    async def run(self) -> int:
        """Apply the rows flagged for replay; returns how many were resolved."""
        try:
            rows = await deadletters.due_replays(self._engine, self._consumer)
        except Exception as exc:  # database away: the next round tries again
            log.warning("dead-letter replay check failed: %s", exc)
            return 0
        done = 0
        for row in rows:
            done += await self._replay_one(row)
        return done

    async def _replay_one(self, row: Any) -> int:
        msg: ConsumerRecord[Any, Any] = ConsumerRecord(
            row.topic,
            row.partition,
            row.offset,
            0,
            0,
            row.key,
            row.value,
            None,
            0,
            0,
            tuple(deadletters.decode_headers(row.headers)),
        )

        async def resolved(conn: AsyncConnection) -> None:
            await deadletters.mark_replayed(conn, row.id)

        try:
            envelope, handler = self._decode(msg)
            if envelope is None or handler is None:
                async with self._engine.begin() as conn:
                    await resolved(conn)  # nothing handles it any more: nothing to replay
                return 1
            await self._apply(handler, envelope, resolved)
        except StallError as exc:
            log.warning("replay of dead letter %d waits: %s", row.id, exc)
            return 0
        except Exception as exc:
            if is_transient(exc) or not await self._database_healthy():
                log.warning("replay of dead letter %d waits: %s", row.id, exc)
                return 0
            await deadletters.mark_failed_again(
                self._engine, row.id, f"{type(exc).__name__}: {exc}"
            )
            log.error("replay of dead letter %d failed again: %s", row.id, exc)
            return 0
        log.info("dead letter %d replayed", row.id)
        return 1
