"""The conflict policy: judge each customer-facing activity against ownership and grants."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from services.collab_svc.adapters.accounts import AccountViews
from services.collab_svc.adapters.conflicts import ConflictViews
from services.collab_svc.adapters.locks import lock_accounts
from services.collab_svc.adapters.requests import RequestViews
from services.collab_svc.domain import conflicts
from shared.clock import Clock
from shared.contracts.collab import AccountRegistered
from shared.contracts.pipeline import ActivityLogged
from shared.errors import ConcurrencyError
from shared.events.envelope import Envelope, Metadata, NewEvent
from shared.events.registry import EventRegistry
from shared.observability import EVENTS_APPENDED
from shared.store.postgres import PostgresEventStore

HANDLED = ("ActivityLogged", "AccountRegistered")


class ConflictPolicy:
    """Consumer handlers; each runs in the inbox's transaction, so the conflict event's outbox
    row commits with the inbox row or not at all."""

    def __init__(self, registry: EventRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock

    @staticmethod
    def _accounts(env: Envelope) -> set[str]:
        """The accounts handling `env` touches, so locked first."""
        e = env.event
        if isinstance(e, ActivityLogged) and e.customer_facing:
            return {e.account_id, *e.matched_accounts}
        if isinstance(e, AccountRegistered):
            return {e.account_id}
        return set()

    async def handle(self, conn: AsyncConnection, env: Envelope) -> None:
        await lock_accounts(conn, self._accounts(env))  # one order everywhere: no deadlock
        await self._apply(conn, env)

    async def handle_many(self, conn: AsyncConnection, envs: Sequence[Envelope]) -> None:
        """Consumer batch handler: every account the batch touches is locked first, in the one
        order `handle` uses, so two batches over the same accounts cannot deadlock."""
        await lock_accounts(conn, {a for env in envs for a in self._accounts(env)})
        for env in envs:
            await self._apply(conn, env)

    async def _apply(self, conn: AsyncConnection, env: Envelope) -> None:
        """Handle `env`; the caller holds the locks of its `_accounts`."""
        e = env.event
        if isinstance(e, ActivityLogged):
            if not e.customer_facing:
                return
            await self.judge(conn, e, env.event_id, env.metadata.correlation_id)
            for account_id in sorted(set(e.matched_accounts) - {e.account_id}):
                await self.judge(conn, e, env.event_id, env.metadata.correlation_id, account_id)
        elif isinstance(e, AccountRegistered):
            for pending in await ConflictViews(conn).take_pending(e.account_id):
                await self.judge(conn, pending.activity, pending.event_id, pending.correlation_id)

    async def judge(
        self,
        conn: AsyncConnection,
        activity: ActivityLogged,
        cause: UUID,
        correlation_id: str | None,
        account_id: str | None = None,
    ) -> None:
        """Raise a conflict if due (against `account_id`, default the deal's account); park the
        activity while the deal's account is unknown."""
        account_id = account_id or activity.account_id
        accounts = AccountViews(conn)
        owner = await accounts.owner_at(account_id, activity.occurred_at)
        if owner is None:
            if account_id == activity.account_id:
                # refuse to guess: judged when AccountRegistered arrives
                await ConflictViews(conn).add_pending(activity, cause, correlation_id)
            # another matched account was learnt from collab's own events, so it is known here
            return
        holds_grant = await RequestViews(conn).holds_grant(
            account_id, activity.actor_id, activity.occurred_at
        )
        group_id = await accounts.group_of(account_id)
        conflict = conflicts.detect(activity, owner, group_id, holds_grant, account_id)
        if conflict is None:
            return
        store = PostgresEventStore(conn, self._registry, self._clock)
        metadata = Metadata(
            correlation_id=correlation_id, causation_id=str(cause), actor="system", region=owner
        )
        try:
            await store.append(
                conflicts.stream_id(conflict.conflict_id),
                conflicts.STREAM_TYPE,
                0,
                [NewEvent(conflict, key=account_id)],
                metadata,
            )
        except ConcurrencyError:
            return  # raised before (version 0 is taken): an activity raises one conflict only
        EVENTS_APPENDED.labels("collab", conflict.event_name).inc()
        await ConflictViews(conn).save(conflict, self._clock.now())
