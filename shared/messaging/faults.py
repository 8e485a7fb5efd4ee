"""Which failures are the infrastructure's (wait and retry) and which are the message's (park it)."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError
from sqlalchemy import exc as sa_exc

# Connection-level failures of PostgreSQL as asyncpg reports them (server away, restarting,
# refusing connections, out of slots, administrator shutdown).
_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ObjectNotInPrerequisiteStateError,  # "not accepting connections"
    asyncpg.exceptions.InvalidCatalogNameError,  # database dropped/recreated under us
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure: try again
)
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the connection pool is exhausted
    sa_exc.DisconnectionError,
    *_PG_UNAVAILABLE,
)


class StallError(Exception):
    """Not the message's fault: keep it, pause the partition, try again later."""

    def __init__(self, why: str, offset: int | None = None) -> None:
        super().__init__(why)
        #: where the partition must wait when it is not the message being processed
        self.offset = offset


def is_transient(exc: BaseException) -> bool:
    """True for database, connection, pool and broker faults anywhere in the exception chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.DBAPIError) and isinstance(current.orig, _PG_UNAVAILABLE):
            return True
        current = current.__cause__ or current.__context__
    return False
