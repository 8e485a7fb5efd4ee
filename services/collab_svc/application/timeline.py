"""The timeline projection: pipeline and collab events become entries of their account's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from services.collab_svc.adapters.accounts import AccountViews
from services.collab_svc.adapters.locks import lock_account, lock_accounts
from services.collab_svc.adapters.timeline import Entry, Timeline
from shared.contracts import collab as cv
from shared.contracts import pipeline as pv
from shared.events.base import DomainEvent
from shared.events.envelope import Envelope

#: event name → timeline kind (the `kind` filter of the timeline endpoints)
KINDS: dict[str, str] = {
    "OpportunityOpened": "opportunity_opened",
    "ActivityLogged": "activity",
    "ArtifactSubmitted": "artifact",
    "StageAdvanced": "stage_advanced",
    "StageAdvanceBlocked": "stage_blocked",
    "OpportunityWon": "opportunity_won",
    "OpportunityLost": "opportunity_lost",
    "ContactRequested": "contact_requested",
    "ContactApproved": "contact_approved",
    "ContactRejected": "contact_rejected",
    "ContactGrantExpired": "contact_grant_expired",
    "AccountOwnershipTransferred": "ownership_transferred",
    "CrossRegionConflictDetected": "conflict",
}
#: account events that change the group an account's entries belong to
GROUP_CHANGES = ("AccountRegistered", "AccountMasterDataUpdated")
HANDLED = (*KINDS, *GROUP_CHANGES)


def _region_and_actor(e: DomainEvent) -> tuple[str | None, str | None]:
    """Which region acted and who; None where the event itself does not say."""
    if isinstance(e, pv.ActivityLogged):
        return e.actor_region, e.actor_id
    if isinstance(e, pv.OpportunityOpened):
        return e.region, e.owner_id
    if isinstance(e, cv.ContactRequested):
        return e.requester_region, e.requester_id
    if isinstance(e, cv.ContactApproved):
        return e.owning_region, e.approved_by
    if isinstance(e, cv.ContactRejected):
        return e.owning_region, e.rejected_by
    if isinstance(e, cv.ContactGrantExpired):
        return e.requester_region, None
    if isinstance(e, cv.AccountOwnershipTransferred):
        return e.from_region, e.actor_id
    if isinstance(e, cv.CrossRegionConflictDetected):
        return e.contact_region, e.actor_id
    if isinstance(e, pv.ArtifactSubmitted):
        return None, e.submitted_by
    if isinstance(e, pv.StageAdvanceBlocked | pv.OpportunityWon | pv.OpportunityLost):
        return None, e.actor_id
    return None, None


Fields = tuple[UUID, str, str, str | None, str | None, datetime]


def _fields(env: Envelope) -> Fields | None:
    """Event id, account, kind, region, actor and business time of the event's entry, if any."""
    event = env.event
    kind = KINDS.get(event.event_name)
    account_id = getattr(event, "account_id", None)
    if kind is None or not isinstance(account_id, str):
        return None
    region, actor = _region_and_actor(event)
    # the command's metadata names the acting member's region where the event does not
    return (
        env.event_id,
        account_id,
        kind,
        region or env.metadata.region,
        actor or env.metadata.actor,
        event.occurred_at,
    )


def entry_for(env: Envelope) -> Entry | None:
    fields = _fields(env)
    return None if fields is None else Entry(*fields, data=env.event.payload())


def row_for(env: Envelope) -> tuple[UUID, str, str, str | None, str | None, datetime, str] | None:
    """The entry's fields with its data as JSON text, serialised by pydantic in one step."""
    fields = _fields(env)
    return None if fields is None else (*fields, env.event.model_dump_json())


async def project(conn: AsyncConnection, env: Envelope) -> None:
    """Consumer handler (runs in the inbox's transaction)."""
    if env.name in GROUP_CHANGES:
        account_id: str = getattr(env.event, "account_id", "")
        await lock_account(conn, account_id)
        await Timeline(conn).backfill_group(account_id)
        return
    entry = entry_for(env)
    if entry is None:
        return
    await lock_account(conn, entry.account_id)
    group_id = await AccountViews(conn).group_of(entry.account_id)
    await Timeline(conn).add(entry, group_id)


async def project_many(conn: AsyncConnection, envs: Sequence[Envelope]) -> None:
    """Consumer batch handler: `project` for each event in order, in a few statements.

    The batch's accounts are locked up front in one order; runs of entries between account
    changes go in with one INSERT that reads each account's group as `project` does.
    """
    await lock_accounts(conn, (a for env in envs if (a := getattr(env.event, "account_id", ""))))
    timeline = Timeline(conn)
    entries: list[Entry] = []
    for env in envs:
        if env.name in GROUP_CHANGES:
            await timeline.add_many(entries)
            entries = []
            await timeline.backfill_group(getattr(env.event, "account_id", ""))
        elif (entry := entry_for(env)) is not None:
            entries.append(entry)
    await timeline.add_many(entries)


async def rebuild_many(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
    """Rebuilds: what `project` does for each envelope in order, in three statements.

    Every entry takes its account's group from the accounts table as it is now, and a group
    change sets the entries of its account to that same value, so copying the entries first and
    backfilling after ends where the event-by-event order ends. It takes no account locks:
    a rebuild writes tables no other transaction touches.
    """
    rows = []
    changed: set[str] = set()
    for env in envelopes:
        if env.event.event_name in GROUP_CHANGES:
            changed.add(getattr(env.event, "account_id", ""))
        elif (row := row_for(env)) is not None:
            rows.append(row)
    if rows:
        await Timeline(conn).copy_many(rows)
    if changed:
        await Timeline(conn).backfill_groups(sorted(changed))
