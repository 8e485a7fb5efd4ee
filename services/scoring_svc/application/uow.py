"""Scoring's unit of work: event store, idempotency keys and published scores in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.scoring_svc.adapters.scores import ScoreViews
from shared.store.uow import SqlUnitOfWork


class ScoringUnitOfWork(SqlUnitOfWork):
    scores: ScoreViews

    def bind(self, conn: AsyncConnection) -> None:
        self.scores = ScoreViews(conn)
