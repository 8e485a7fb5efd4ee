"""Contact requests and the grants they became, updated in the command's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.collab_svc.adapters.paging import Page, keyset_page, row_dict
from services.collab_svc.domain.contact_request import ContactRequest

# Keyed by request id and written from the aggregate's own state: a replayed or redelivered
# approval can only rewrite the same values, never widen a grant.
SAVE = text(
    "INSERT INTO contact_requests (request_id, account_id, owning_region, requester_id,"
    " requester_region, requester_team, purpose, window_start, window_end, status,"
    " requested_at, decided_by, decided_at, reason, valid_from, valid_until, expired_at,"
    " version) VALUES (:request_id, :account_id, :owning_region, :requester_id,"
    " :requester_region, :requester_team, :purpose, :window_start, :window_end, :status,"
    " :requested_at, :decided_by, :decided_at, :reason, :valid_from, :valid_until,"
    " :expired_at, :version) ON CONFLICT (request_id) DO UPDATE SET"
    " owning_region = EXCLUDED.owning_region, status = EXCLUDED.status,"
    " decided_by = EXCLUDED.decided_by, decided_at = EXCLUDED.decided_at,"
    " reason = EXCLUDED.reason, valid_from = EXCLUDED.valid_from,"
    " valid_until = EXCLUDED.valid_until, expired_at = EXCLUDED.expired_at,"
    " version = EXCLUDED.version WHERE contact_requests.version < EXCLUDED.version"
)
# Several schedulers may run: each takes rows the others have not locked.
CLAIM_DUE = text(
    "SELECT request_id FROM contact_requests WHERE status = 'approved' AND valid_until <= :now"
    " ORDER BY valid_until LIMIT :limit FOR UPDATE SKIP LOCKED"
)
# A grant is valid on [valid_from, valid_until): expired or not now, it covered that instant.
HOLDS_GRANT = text(
    "SELECT EXISTS (SELECT 1 FROM contact_requests WHERE account_id = :a AND requester_id = :m"
    " AND valid_from IS NOT NULL AND valid_from <= :at AND valid_until > :at)"
)
# Pending requests follow the account to its new owner's inbox.
REROUTE = text(
    "UPDATE contact_requests SET owning_region = :region"
    " WHERE account_id = :a AND status = 'pending'"
)
COLUMNS = (
    "seq, request_id, account_id, owning_region, requester_id, requester_region,"
    " requester_team, purpose, window_start, window_end, status, requested_at, decided_by,"
    " decided_at, reason, valid_from, valid_until, expired_at, version"
)


class RequestViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def save(self, r: ContactRequest) -> None:
        await self._conn.execute(
            SAVE,
            {
                "request_id": r.request_id,
                "account_id": r.account_id,
                "owning_region": r.owning_region,
                "requester_id": r.requester_id,
                "requester_region": r.requester_region,
                "requester_team": r.requester_team,
                "purpose": r.purpose,
                "window_start": r.window_start,
                "window_end": r.window_end,
                "status": r.status,
                "requested_at": r.requested_at,
                "decided_by": r.decided_by,
                "decided_at": r.decided_at,
                "reason": r.reason,
                "valid_from": r.valid_from,
                "valid_until": r.valid_until,
                "expired_at": r.expired_at,
                "version": r.version,
            },
        )

    async def get(self, request_id: str) -> dict[str, Any] | None:
        row = (
            await self._conn.execute(
                text(f"SELECT {COLUMNS} FROM contact_requests WHERE request_id = :id"),  # noqa: S608
                {"id": request_id},
            )
        ).first()
        return row_dict(row) if row else None

    async def page(self, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        return await keyset_page(self._conn, "contact_requests", COLUMNS, page)

    async def claim_due(self, now: datetime, limit: int) -> list[str]:
        rows = await self._conn.execute(CLAIM_DUE, {"now": now, "limit": limit})
        return [r.request_id for r in rows]

    async def holds_grant(self, account_id: str, member_id: str, at: datetime) -> bool:
        result = await self._conn.execute(HOLDS_GRANT, {"a": account_id, "m": member_id, "at": at})
        return bool(result.scalar())

    async def reroute(self, account_id: str, region: str) -> None:
        await self._conn.execute(REROUTE, {"a": account_id, "region": region})
