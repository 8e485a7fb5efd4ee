"""Waking the outbox relay after a commit, from outside the committing transaction.

A NOTIFY sent inside a transaction makes PostgreSQL take one database-wide lock at commit and
hold it until the commit record is flushed: every transaction that notifies commits after the
one before it has reached the disk, and group commit is lost (decision 0043). Under load the
commits of an api process queued behind that lock.

So an api process's sessions say `sightline.outbox_wake = after_commit`; the trigger on
`events` leaves them alone, and the unit of work, once its commit returned, pokes the
engine's `OutboxWaker`. The waker sends NOTIFY on a connection of its own, outside any
transaction, at most once per linger: the first poke at once, the ones arriving meanwhile
together right after. A NOTIFY lost to a fault (the waker's connection gone, the process killed
between commit and poke) costs latency only: the relay also polls every
`relay_poll_interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

from shared.store.schema import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

#: the session setting the `events` trigger reads (see `shared.store.schema`)
WAKE_SETTING = "sightline.outbox_wake"
AFTER_COMMIT = "after_commit"
NOTIFY = f"NOTIFY {OUTBOX_CHANNEL}"
#: a database that does not answer within this is left to the relay's poll
TIMEOUT_S = 5.0

#: by connection pool: an engine and the proxies its execution options make share one
_wakers: weakref.WeakKeyDictionary[Pool, OutboxWaker] = weakref.WeakKeyDictionary()


class OutboxWaker:
    """Coalesced NOTIFYs on one connection of its own (opened at the first poke)."""

    def __init__(self, dsn: str, linger_s: float) -> None:
        self._dsn = dsn
        self._linger_s = linger_s
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending = False
        #: NOTIFYs sent, and failed attempts (a failed one is left to the relay's poll)
        self.sent = 0
        self.failed = 0

    def poke(self) -> None:
        """Something committed events: have the relay look, soon."""
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-wake")

    async def _run(self) -> None:
        while self._pending:
            self._pending = False
            try:
                await self._notify()
            except Exception as exc:  # any fault: the database away, the connection dropped
                self.failed += 1
                log.debug("outbox wake not sent (the relay's poll covers it): %s", exc)
                await self._drop()
            await asyncio.sleep(self._linger_s)

    async def _notify(self) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self._dsn,
                timeout=TIMEOUT_S,
                server_settings={"application_name": "sightline-wake"},
            )
        await self._conn.execute(NOTIFY, timeout=TIMEOUT_S)
        self.sent += 1

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


def attach(engine: AsyncEngine, waker: OutboxWaker) -> None:
    """Commits on `engine`'s sessions that wrote events poke `waker`."""
    _wakers[engine.sync_engine.pool] = waker


def detach(engine: AsyncEngine) -> None:
    _wakers.pop(engine.sync_engine.pool, None)


def poke(engine: Any) -> None:
    """After a commit that wrote events: wake the relay if `engine` defers its NOTIFYs."""
    waker = _wakers.get(engine.sync_engine.pool)
    if waker is not None:
        waker.poke()
