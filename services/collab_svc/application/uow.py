"""Collab's unit of work: event store, idempotency keys and the read models in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.collab_svc.adapters.accounts import AccountViews
from services.collab_svc.adapters.conflicts import ConflictViews
from services.collab_svc.adapters.org import OrgViews
from services.collab_svc.adapters.requests import RequestViews
from services.collab_svc.adapters.timeline import Timeline
from shared.store.uow import SqlUnitOfWork


class CollabUnitOfWork(SqlUnitOfWork):
    org: OrgViews
    accounts: AccountViews
    requests: RequestViews
    timeline: Timeline
    conflicts: ConflictViews

    def bind(self, conn: AsyncConnection) -> None:
        self.org = OrgViews(conn)
        self.accounts = AccountViews(conn)
        self.requests = RequestViews(conn)
        self.timeline = Timeline(conn)
        self.conflicts = ConflictViews(conn)
