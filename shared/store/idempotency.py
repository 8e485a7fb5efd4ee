"""Idempotency keys: the first answer to a command is stored in the command's own transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class IdempotencyStore(Protocol):
    async def claim(self, scope: str, key: str) -> StoredResponse | None:
        """Hold the key until the transaction ends; the stored answer if there is one."""
        ...

    async def get(self, scope: str, key: str) -> StoredResponse | None: ...

    async def put(self, scope: str, key: str, response: StoredResponse) -> bool:
        """False if the key was taken meanwhile (a concurrent twin request)."""
        ...


# a transaction-scoped lock per key: a concurrent twin waits here, then finds the stored answer
LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:scope || chr(31) || :key, 0))")
GET = text(
    "SELECT request_hash, status_code, body, headers FROM idempotency_keys"
    " WHERE scope = :scope AND key = :key"
)
PUT = text(
    "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, body, headers)"
    " VALUES (:scope, :key, :hash, :status, CAST(:body AS jsonb), CAST(:headers AS jsonb))"
    " ON CONFLICT (scope, key) DO NOTHING RETURNING 1"
)


class PostgresIdempotencyStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, scope: str, key: str) -> StoredResponse | None:
        await self._conn.execute(LOCK, {"scope": scope, "key": key})
        return await self.get(scope, key)

    async def get(self, scope: str, key: str) -> StoredResponse | None:
        row = (await self._conn.execute(GET, {"scope": scope, "key": key})).first()
        if row is None:
            return None
        return StoredResponse(row.request_hash, row.status_code, row.body, dict(row.headers))

    async def put(self, scope: str, key: str, response: StoredResponse) -> bool:
        result = await self._conn.execute(
            PUT,
            {
                "scope": scope,
                "key": key,
                "hash": response.request_hash,
                "status": response.status_code,
                "body": json.dumps(response.body, ensure_ascii=False),
                "headers": json.dumps(response.headers),
            },
        )
        return result.first() is not None
