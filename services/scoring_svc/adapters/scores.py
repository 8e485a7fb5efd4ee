"""Published health scores (every revision kept) and the schedulers' watermarks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CLAIM = text(
    "INSERT INTO health_publications (week, revision, model_version, published_at)"
    " SELECT :week, COALESCE(max(revision), 0) + 1, :model_version, :at"
    " FROM health_publications WHERE week = :week"
    " ON CONFLICT DO NOTHING RETURNING revision"
)
SAVE = text(
    "INSERT INTO health_scores (scope, scope_id, week, revision, score, body, model_version,"
    " computed_at) VALUES (:scope, :scope_id, :week, :revision, :score, CAST(:body AS jsonb),"
    " :model_version, :at)"
)
LATEST = text(
    "SELECT body, revision, model_version, computed_at FROM health_scores"
    " WHERE scope = :scope AND scope_id = :scope_id AND week = :week"
    " ORDER BY revision DESC LIMIT 1"
)
LATEST_WEEK = text(
    "SELECT scope_id, body, revision, computed_at FROM health_scores h"
    " WHERE scope = :scope AND week = :week"
    " AND revision = (SELECT max(revision) FROM health_publications p WHERE p.week = :week)"
)
PUBLISHED = text("SELECT max(revision) FROM health_publications WHERE week = :week")
SAVE_FORECAST = text(
    "INSERT INTO forecast_publications (quarter, body, published_at)"
    " VALUES (:q, CAST(:body AS jsonb), :at) ON CONFLICT (quarter) DO NOTHING RETURNING quarter"
)
WATERMARK = text("SELECT label FROM scoring_watermarks WHERE name = :name FOR UPDATE")
SET_WATERMARK = text(
    "INSERT INTO scoring_watermarks (name, label) VALUES (:name, :label)"
    " ON CONFLICT (name) DO UPDATE SET label = EXCLUDED.label"
)


class ScoreViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, week: str, model_version: int, at: datetime) -> int | None:
        """The next revision of a week's publication, or None if a concurrent twin took it."""
        row = (
            await self._conn.execute(
                CLAIM, {"week": week, "model_version": model_version, "at": at}
            )
        ).first()
        return None if row is None else int(row.revision)

    async def save_many(
        self,
        week: str,
        revision: int,
        rows: list[tuple[str, str, dict[str, Any]]],
        model_version: int,
        at: datetime,
    ) -> None:
        """(scope, scope_id, body) rows of one publication, in one round trip."""
        if not rows:
            return
        await self._conn.execute(
            SAVE,
            [
                {
                    "scope": scope,
                    "scope_id": scope_id,
                    "week": week,
                    "revision": revision,
                    "score": body.get("score"),
                    "body": json.dumps(body, ensure_ascii=False),
                    "model_version": model_version,
                    "at": at,
                }
                for scope, scope_id, body in rows
            ],
        )

    async def published(self, week: str) -> int | None:
        value = (await self._conn.execute(PUBLISHED, {"week": week})).scalar()
        return None if value is None else int(value)

    async def latest(self, scope: str, scope_id: str, week: str) -> dict[str, Any] | None:
        row = (
            await self._conn.execute(LATEST, {"scope": scope, "scope_id": scope_id, "week": week})
        ).first()
        if row is None:
            return None
        body = row.body if isinstance(row.body, dict) else json.loads(row.body)
        return {**body, "revision": row.revision, "published_at": row.computed_at.isoformat()}

    async def week(self, scope: str, week: str) -> dict[str, dict[str, Any]]:
        rows = await self._conn.execute(LATEST_WEEK, {"scope": scope, "week": week})
        return {
            r.scope_id: {
                **(r.body if isinstance(r.body, dict) else json.loads(r.body)),
                "revision": r.revision,
                "published_at": r.computed_at.isoformat(),
            }
            for r in rows
        }

    async def watermark(self, name: str) -> str | None:
        value = (await self._conn.execute(WATERMARK, {"name": name})).scalar()
        return None if value is None else str(value)

    async def set_watermark(self, name: str, label: str) -> None:
        await self._conn.execute(SET_WATERMARK, {"name": name, "label": label})

    async def save_forecast(self, quarter: str, body: dict[str, Any], at: datetime) -> bool:
        """False if that quarter's forecast was already published."""
        row = await self._conn.execute(
            SAVE_FORECAST, {"q": quarter, "body": json.dumps(body, ensure_ascii=False), "at": at}
        )
        return row.first() is not None
