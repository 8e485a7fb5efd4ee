"""The pipeline's projection of collab events: ownership, master-data contacts, grants, members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.pipeline_svc.adapters.directory import ADD_CONTACT, normalise_contact
from services.pipeline_svc.adapters.views import FOLLOW_OWNER
from shared.contracts import collab as ev
from shared.events.envelope import Envelope

#: the consumer group that applies collab.events to the pipeline's tables
COLLAB_GROUP = "pipeline-collab"
UPSERT_ACCOUNT = text(
    "INSERT INTO known_accounts (account_id, owning_region, group_id, updated_at)"
    " VALUES (:a, :r, :g, :t) ON CONFLICT (account_id) DO UPDATE SET"
    " owning_region = EXCLUDED.owning_region, group_id = EXCLUDED.group_id,"
    " updated_at = EXCLUDED.updated_at WHERE known_accounts.updated_at <= EXCLUDED.updated_at"
    " RETURNING 1"
)
TRANSFER = text(
    "UPDATE known_accounts SET owning_region = :r, updated_at = :t"
    " WHERE account_id = :a AND updated_at <= :t"
)
# master data is replaced as a whole: a contact dropped from it stops matching
DROP_ACCOUNT_CONTACTS = text(
    "DELETE FROM contact_points WHERE account_id = :a AND opportunity_id = ''"
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
UPSERT_MEMBER = text(
    "INSERT INTO org_members (member_id, region, team, role, updated_at)"
    " VALUES (:m, :r, :team, :role, :t) ON CONFLICT (member_id) DO UPDATE SET"
    " region = EXCLUDED.region, team = EXCLUDED.team, role = EXCLUDED.role,"
    " updated_at = EXCLUDED.updated_at WHERE org_members.updated_at <= EXCLUDED.updated_at"
)


async def apply_collab_event(conn: AsyncConnection, env: Envelope) -> None:
    """Consumer handler for collab.events (runs in the inbox's transaction)."""
    e = env.event
    if isinstance(e, ev.AccountMasterData):
        await _master_data(conn, e)
    elif isinstance(e, ev.AccountOwnershipTransferred):
        await conn.execute(TRANSFER, {"a": e.account_id, "r": e.to_region, "t": e.occurred_at})
        await conn.execute(FOLLOW_OWNER, {"a": e.account_id})
    elif isinstance(e, ev.MemberAssigned):
        await conn.execute(
            UPSERT_MEMBER,
            {
                "m": e.member_id,
                "r": e.region_id,
                "team": e.team_id,
                "role": e.role,
                "t": e.occurred_at,
            },
        )
    elif isinstance(e, ev.ContactApproved):
        await _grant(conn, e, e.valid_from, e.valid_until, "approved")
    elif isinstance(e, ev.ContactRejected):
        await _grant(conn, e, None, None, "rejected")
    elif isinstance(e, ev.ContactGrantExpired):
        await _grant(conn, e, None, None, "expired")


async def _master_data(conn: AsyncConnection, e: ev.AccountMasterData) -> None:
    params = {"a": e.account_id, "r": e.owning_region, "g": e.group_id, "t": e.occurred_at}
    if (await conn.execute(UPSERT_ACCOUNT, params)).first() is None:
        return  # older than what is on record (arrived late): it replaces nothing
    await conn.execute(DROP_ACCOUNT_CONTACTS, {"a": e.account_id})
    for contact in {normalise_contact(c) for c in [*e.contact_emails, *e.contact_phones]}:
        if contact:
            await conn.execute(ADD_CONTACT, {"c": contact, "a": e.account_id, "o": ""})
    await conn.execute(FOLLOW_OWNER, {"a": e.account_id})


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
    "MemberAssigned",
    "ContactApproved",
    "ContactRejected",
    "ContactGrantExpired",
)
