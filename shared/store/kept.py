"""Connections kept checked out between units of work, while the pool has others to spare.

SQLAlchemy's asyncio engine checks a connection out, and in again, each in a greenlet of its
own (Python 3.11 maps a fresh data-stack chunk for each): 53-58 µs of CPU per unit of work on
a 2-core machine, more than a warm command's two statements cost the process. A unit of work
that ends cleanly (its statements sent straight to asyncpg, no transaction left open) hands its
connection here instead, and the next unit takes it back without either hop.

A connection is kept only while the pool still holds one checked in, or has room to open
one: nothing then waits on the pool, so a kept connection never stands idle before a request
that waits for one. At most
`limit` are kept, each for at most `max_age_s` since it left the pool (it then goes back, and
the pool's recycling and checks see it again). One whose server end went away (a database
restart) is dropped at the next take, as the pool's own checkout does (`shared.db`). Only the
engines a service's lifespan opts in (`keep`) keep connections; `release` closes them before
the engine is disposed.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import Pool

#: a kept connection goes back to the pool this long after it left it
MAX_AGE_S = 60.0


class Taken(NamedTuple):
    conn: AsyncConnection | None
    #: their server end went away: invalidate, then close
    dead: list[AsyncConnection]
    #: kept long enough: back to the pool
    aged: list[AsyncConnection]


class KeptConnections:
    def __init__(self, pool: Pool, limit: int, max_age_s: float = MAX_AGE_S) -> None:
        self._pool = pool
        self.limit = limit
        self.max_age_s = max_age_s
        #: (connection, when it left the pool), the most recently kept last
        self._idle: list[tuple[AsyncConnection, float]] = []
        #: when each connection now lent to a unit of work left the pool
        self._since: weakref.WeakKeyDictionary[AsyncConnection, float] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return len(self._idle)

    def take(self) -> Taken:
        """A kept connection fit for use (or None), and those met on the way that are not:
        the caller invalidates the dead ones and closes both kinds."""
        dead: list[AsyncConnection] = []
        aged: list[AsyncConnection] = []
        now = time.monotonic()
        while self._idle:
            conn, since = self._idle.pop()
            if _driver(conn).is_closed():
                dead.append(conn)
            elif now - since > self.max_age_s:
                aged.append(conn)
            else:
                self._since[conn] = since
                return Taken(conn, dead, aged)
        return Taken(None, dead, aged)

    def checked_out(self, conn: AsyncConnection) -> None:
        """`conn` just left the pool for a unit of work."""
        self._since[conn] = time.monotonic()

    def offer(self, conn: AsyncConnection) -> bool:
        """Keep `conn`, whose unit of work ended without an error (committed, or rolled back
        cleanly), if it is fit and the pool has a connection to spare; False: the caller
        closes it (back to the pool)."""
        since = self._since.pop(conn, None)
        if since is None or len(self._idle) >= self.limit:
            return False
        if time.monotonic() - since > self.max_age_s:
            return False
        if not self._pool_has_spare():
            return False  # someone may be waiting on the pool: it gets this one
        sync = conn.sync_connection
        if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
            return False
        driver = _driver(conn)
        if driver.is_closed() or driver.is_in_transaction():
            return False
        self._idle.append((conn, since))
        return True

    def _pool_has_spare(self) -> bool:
        """A connection checked in, or room to open one: then nobody waits on the pool."""
        pool: Any = self._pool
        try:
            checkedin, checkedout, size = pool.checkedin(), pool.checkedout(), pool.size()
        except AttributeError:  # a pool that does not count (NullPool, StaticPool)
            return False
        return bool(checkedin > 0 or checkedin + checkedout < size)

    def drain(self) -> list[AsyncConnection]:
        """Every kept connection, no longer kept (for the caller to close)."""
        idle, self._idle = self._idle, []
        return [conn for conn, _ in idle]


def _driver(conn: AsyncConnection) -> Any:
    return conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]


#: by connection pool: an engine and the proxies its execution options make share one
_kept: weakref.WeakKeyDictionary[Pool, KeptConnections] = weakref.WeakKeyDictionary()


def keep(engine: AsyncEngine, limit: int) -> KeptConnections:
    """Units of work on `engine` keep up to `limit` connections between them."""
    kept = _kept[engine.sync_engine.pool] = KeptConnections(engine.sync_engine.pool, limit)
    return kept


def kept_for(engine: AsyncEngine) -> KeptConnections | None:
    return _kept.get(engine.sync_engine.pool)


async def release(engine: AsyncEngine) -> None:
    """Stop keeping connections for `engine`'s units of work, and close the kept ones."""
    kept = _kept.pop(engine.sync_engine.pool, None)
    if kept is not None:
        for conn in kept.drain():
            await conn.close()
