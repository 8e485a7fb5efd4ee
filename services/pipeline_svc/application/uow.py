"""The pipeline's unit of work: event store, idempotency keys and the list view in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.pipeline_svc.adapters.directory import Directory
from services.pipeline_svc.adapters.playbook_lock import PlaybookLock
from services.pipeline_svc.adapters.views import OpportunityViews
from shared.store.uow import SqlUnitOfWork


class PipelineUnitOfWork(SqlUnitOfWork):
    views: OpportunityViews
    directory: Directory
    playbook_lock: PlaybookLock

    def bind(self, conn: AsyncConnection) -> None:
        self.views = OpportunityViews(conn)
        self.directory = Directory(conn)
        self.playbook_lock = PlaybookLock(conn)
