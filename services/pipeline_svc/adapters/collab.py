"""The pipeline's projection of collab events (ownership, grants, contacts) and its queries."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.contracts import collab as ev
from shared.events.envelope import Envelope

UPSERT_ACCOUNT = text(
    "INSERT INTO known_accounts (account_id, owning_region, group_id, updated_at)"
    " VALUES (:a, :r, :g, :t) ON CONFLICT (account_id) DO UPDATE SET"
    " owning_region = EXCLUDED.owning_region, group_id = EXCLUDED.group_id,"
    " updated_at = EXCLUDED.updated_at WHERE known_accounts.updated_at <= EXCLUDED.updated_at"
)
# an expiry or rejection is final: a late or redelivered approval never revives a grant
UPSERT_GRANT = text(
    "INSERT INTO contact_grants (request_id, account_id, member_id, member_region, valid_from,"
    " valid_until, status) VALUES (:id, :a, :m, :r, :f, :u, :s)"
    " ON CONFLICT (request_id) DO UPDATE SET"
    " valid_from = COALESCE(contact_grants.valid_from, EXCLUDED.valid_from),"
    " valid_until = COALESCE(contact_grants.valid_until, EXCLUDED.valid_until),"
    " status = CASE WHEN contact_grants.status IN ('expired', 'rejected')"
    " THEN contact_grants.status ELSE EXCLUDED.status END"
)
HAS_GRANT = text(
    "SELECT EXISTS (SELECT 1 FROM contact_grants WHERE account_id = :a AND member_id = :m"
    " AND status = 'approved' AND valid_from <= :at AND valid_until > :at)"
)
ADD_CONTACT = text(
    "INSERT INTO contact_points (contact, account_id, opportunity_id) VALUES (:c, :a, :o)"
    " ON CONFLICT DO NOTHING"
)


def normalise_contact(value: str) -> str:
    """Emails compare case-insensitively; phone numbers by their digits."""
    value = value.strip()
    if "@" in value:
        return value.lower()
    return re.sub(r"\D", "", value)


async def apply_collab_event(conn: AsyncConnection, env: Envelope) -> None:
    """Consumer handler for collab.events (runs in the inbox's transaction)."""
    e = env.event
    if isinstance(e, ev.AccountMasterData):
        await conn.execute(
            UPSERT_ACCOUNT,
            {"a": e.account_id, "r": e.owning_region, "g": e.group_id, "t": e.occurred_at},
        )
        for contact in [*e.contact_emails, *e.contact_phones]:
            await conn.execute(
                ADD_CONTACT, {"c": normalise_contact(contact), "a": e.account_id, "o": ""}
            )
    elif isinstance(e, ev.AccountOwnershipTransferred):
        await conn.execute(
            text(
                "UPDATE known_accounts SET owning_region = :r, updated_at = :t"
                " WHERE account_id = :a AND updated_at <= :t"
            ),
            {"a": e.account_id, "r": e.to_region, "t": e.occurred_at},
        )
    elif isinstance(e, ev.ContactApproved):
        await _grant(conn, e, e.valid_from, e.valid_until, "approved")
    elif isinstance(e, ev.ContactRejected):
        await _grant(conn, e, None, None, "rejected")
    elif isinstance(e, ev.ContactGrantExpired):
        await _grant(conn, e, None, None, "expired")


async def _grant(
    conn: AsyncConnection,
    e: ev.ContactApproved | ev.ContactRejected | ev.ContactGrantExpired,
    valid_from: datetime | None,
    valid_until: datetime | None,
    status: str,
) -> None:
    await conn.execute(
        UPSERT_GRANT,
        {
            "id": e.request_id,
            "a": e.account_id,
            "m": e.requester_id,
            "r": e.requester_region,
            "f": valid_from,
            "u": valid_until,
            "s": status,
        },
    )


COLLAB_HANDLED = (
    "AccountRegistered",
    "AccountMasterDataUpdated",
    "AccountOwnershipTransferred",
    "ContactApproved",
    "ContactRejected",
    "ContactGrantExpired",
)


class Directory:
    """Queries on the projection, bound to the command's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def owning_region(self, account_id: str) -> str | None:
        row = await self._conn.execute(
            text("SELECT owning_region FROM known_accounts WHERE account_id = :a"),
            {"a": account_id},
        )
        return row.scalar()

    async def has_grant(self, account_id: str, member_id: str, at: datetime) -> bool:
        row = await self._conn.execute(HAS_GRANT, {"a": account_id, "m": member_id, "at": at})
        return bool(row.scalar())

    async def add_stakeholder_contact(self, contact: str, account_id: str, opp_id: str) -> None:
        await self._conn.execute(
            ADD_CONTACT, {"c": normalise_contact(contact), "a": account_id, "o": opp_id}
        )

    async def match(self, contact: str) -> str | None:
        """The most recently opened open opportunity reachable through a contact point."""
        row = await self._conn.execute(
            text(
                "SELECT v.opportunity_id FROM contact_points c JOIN opportunity_views v"
                " ON (c.opportunity_id = v.opportunity_id)"
                " OR (c.opportunity_id = '' AND c.account_id = v.account_id)"
                " WHERE c.contact = :c AND v.status = 'open'"
                " ORDER BY (c.opportunity_id <> '') DESC, v.opened_at DESC LIMIT 1"
            ),
            {"c": normalise_contact(contact)},
        )
        return row.scalar()

    async def ingested(self, external_id: str) -> tuple[str, str] | None:
        row = (
            await self._conn.execute(
                text(
                    "SELECT opportunity_id, activity_id FROM ingested_logs WHERE external_id = :x"
                ),
                {"x": external_id},
            )
        ).first()
        return (row.opportunity_id, row.activity_id) if row else None

    async def mark_ingested(self, external_id: str, opp_id: str, activity_id: str) -> bool:
        row = await self._conn.execute(
            text(
                "INSERT INTO ingested_logs (external_id, opportunity_id, activity_id)"
                " VALUES (:x, :o, :a) ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"x": external_id, "o": opp_id, "a": activity_id},
        )
        return row.first() is not None
