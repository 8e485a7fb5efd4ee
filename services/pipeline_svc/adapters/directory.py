"""Queries on the pipeline's collab projection, bound to the command's connection."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.pipeline_svc.domain.matching import AccountOfRecord, DealCandidate
from services.pipeline_svc.domain.permissions import Member
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry
from shared.store import driver as raw
from shared.store.postgres import record_to_envelope

OWNING_REGION = text("SELECT owning_region FROM known_accounts WHERE account_id = :a")
HAS_GRANT = text(
    "SELECT EXISTS (SELECT 1 FROM contact_grants WHERE account_id = :a AND member_id = :m"
    " AND status = 'approved' AND valid_from <= :at AND valid_until > :at)"
)
ADD_CONTACT = text(
    "INSERT INTO contact_points (contact, account_id, opportunity_id) VALUES (:c, :a, :o)"
    " ON CONFLICT DO NOTHING"
)
ACCOUNTS_OF_RECORD = text(
    "SELECT c.account_id, k.owning_region FROM contact_points c"
    " JOIN known_accounts k ON k.account_id = c.account_id"
    " WHERE c.contact = :c AND c.opportunity_id = ''"
)
OPEN_DEALS = text(
    "SELECT DISTINCT v.opportunity_id, v.account_id, v.region, v.opened_at,"
    " (c.opportunity_id <> '') AS via_stakeholder FROM contact_points c"
    " JOIN opportunity_views v ON (c.opportunity_id = v.opportunity_id)"
    " OR (c.opportunity_id = '' AND c.account_id = v.account_id)"
    " WHERE c.contact = :c AND v.status = 'open'"
)


# the stream's tail after a snapshot and its account's owner, in one round trip
TAIL_AND_OWNER = (
    "SELECT k.owning_region, e.global_id, e.tx_id::text AS tx_id, e.event_id, e.stream_id,"
    " e.stream_type, e.version, e.event_name, e.event_version, e.payload, e.metadata,"
    " e.partition_key, e.recorded_at FROM (SELECT 1) AS one"
    " LEFT JOIN (SELECT owning_region FROM known_accounts WHERE account_id = :a) AS k"
    " ON true LEFT JOIN events AS e ON e.stream_id = :s AND e.version > :after"
    " ORDER BY e.version"
)
#: the append's guard (`append_then(guard=...)`): the account is still owned by the region the
#: command read, and its row is held shared until the statement's transaction ends, so a
#: transfer waits for the append, or the append sees the new owner and is refused as a clash
OWNER_GUARD = (
    "(SELECT owning_region FROM known_accounts WHERE account_id = CAST(:guard_account AS text)"
    " FOR SHARE) IS NOT DISTINCT FROM CAST(:guard_owner AS text)"
)


def normalise_contact(value: str) -> str:
    """Emails compare case-insensitively; phone numbers by their digits."""
    value = value.strip()
    if "@" in value:
        return value.lower()
    return re.sub(r"\D", "", value)


class Directory:
    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        self._conn = conn
        #: the asyncpg connection under `conn`, in the unit of work's transaction
        self._driver = driver
        #: the owning region of each account as this unit of work read it (None: not known)
        self._owners: dict[str, str | None] = {}

    def owner_read(self, account_id: str) -> str | None:
        """The owner this unit of work read for the account: what its writes are decided on."""
        try:
            return self._owners[account_id]
        except KeyError:
            raise RuntimeError(f"the owner of account {account_id} was not read") from None

    async def owning_region(self, account_id: str) -> str | None:
        """The account's owner as collab last said; a write that depends on it checks it again
        under a lock (`OWNER_GUARD`)."""
        row = await self._conn.execute(OWNING_REGION, {"a": account_id})
        owner: str | None = row.scalar()
        self._owners[account_id] = owner
        return owner

    async def tail_and_owner(
        self, registry: EventRegistry, stream: str, after: int, account_id: str
    ) -> tuple[list[Envelope], str | None]:
        """The events of `stream` after version `after`, and the owning region of `account_id`
        as `owning_region` reads it."""
        records = await raw.fetch(
            self._driver, TAIL_AND_OWNER, {"a": account_id, "s": stream, "after": after}
        )
        owner: str | None = None
        tail: list[Envelope] = []
        for r in records:
            owner = r["owning_region"]
            if r["event_id"] is not None:
                tail.append(record_to_envelope(r, registry))
        self._owners[account_id] = owner
        return tail, owner

    async def member(self, member_id: str) -> Member | None:
        row = (
            await self._conn.execute(
                text("SELECT member_id, region, team, role FROM org_members WHERE member_id = :m"),
                {"m": member_id},
            )
        ).first()
        return Member(row.member_id, row.region, row.team, row.role) if row else None

    async def has_grant(self, account_id: str, member_id: str, at: datetime) -> bool:
        row = await self._conn.execute(HAS_GRANT, {"a": account_id, "m": member_id, "at": at})
        return bool(row.scalar())

    async def add_stakeholder_contact(self, contact: str, account_id: str, opp_id: str) -> None:
        await self._conn.execute(
            ADD_CONTACT, {"c": normalise_contact(contact), "a": account_id, "o": opp_id}
        )

    async def reached_by(self, contact: str) -> tuple[list[AccountOfRecord], list[DealCandidate]]:
        """The accounts whose master data lists the contact, and the open deals it reaches."""
        c = normalise_contact(contact)
        accounts = await self._conn.execute(ACCOUNTS_OF_RECORD, {"c": c})
        deals = await self._conn.execute(OPEN_DEALS, {"c": c})
        return (
            [AccountOfRecord(r.account_id, r.owning_region) for r in accounts],
            [
                DealCandidate(
                    r.opportunity_id, r.account_id, r.region, r.opened_at, r.via_stakeholder
                )
                for r in deals
            ],
        )

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
