"""The opportunity list view: one row per deal, updated in the command's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.pipeline_svc.domain.opportunity import Opportunity
from shared.store.cursors import decode_seq, encode_seq

#: the deal's list row, as the `then` of its append (`append_then`): written only when the
#: events were, so a statement that commits on its own leaves no row of a refused append, and
#: never over a newer version (the binds are cast: a SELECT list, unlike VALUES, does not take
#: the target columns' types)
UPSERT_AFTER_APPEND_SQL = (
    "INSERT INTO opportunity_views (opportunity_id, account_id, region, team, owner_id, stage,"
    " status, version, opened_at, updated_at, last_customer_activity_at, view)"
    " SELECT CAST(:opportunity_id AS text), CAST(:account_id AS text), CAST(:region AS text),"
    " CAST(:team AS text), CAST(:owner_id AS text), CAST(:stage AS text),"
    " CAST(:status AS text), CAST(:version AS integer), CAST(:opened_at AS timestamptz),"
    " CAST(:updated_at AS timestamptz), CAST(:last_customer_activity_at AS timestamptz),"
    " CAST(:view AS jsonb) WHERE EXISTS (SELECT FROM ins)"
    " ON CONFLICT (opportunity_id) DO UPDATE SET region = EXCLUDED.region,"
    " owner_id = EXCLUDED.owner_id,"
    " team = EXCLUDED.team, stage = EXCLUDED.stage, status = EXCLUDED.status,"
    " version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,"
    " last_customer_activity_at = EXCLUDED.last_customer_activity_at, view = EXCLUDED.view"
    " WHERE opportunity_views.version < EXCLUDED.version"
)
# the account changed hands: its deals' rows follow the owning region of record
FOLLOW_OWNER = text(
    "UPDATE opportunity_views v SET region = k.owning_region,"
    " view = jsonb_set(v.view, '{region}', to_jsonb(k.owning_region))"
    " FROM known_accounts k WHERE k.account_id = :a AND v.account_id = :a"
    " AND v.region <> k.owning_region"
)
FILTERS = ("region", "team", "owner_id", "stage", "status", "account_id")


def row(opp: Opportunity, view: dict[str, Any], updated_at: datetime) -> dict[str, Any]:
    """The parameters of UPSERT_AFTER_APPEND_SQL for the deal and its view rendered at
    `updated_at`."""
    return {
        "opportunity_id": opp.opportunity_id,
        "account_id": opp.account_id,
        "region": opp.region,
        "team": opp.team,
        "owner_id": opp.owner_id,
        "stage": opp.stage,
        "status": opp.status,
        "version": opp.version,
        "opened_at": opp.opened_at,
        "updated_at": updated_at,
        "last_customer_activity_at": opp.last_customer_activity_at,
        "view": to_json(view).decode(),
    }


@dataclass(frozen=True)
class ListQuery:
    region: str | None = None
    team: str | None = None
    owner_id: str | None = None
    stage: str | None = None
    status: str | None = None
    account_id: str | None = None
    cursor: str | None = None
    limit: int = 50


class OpportunityViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def open_stages(self) -> set[str]:
        rows = await self._conn.execute(
            text("SELECT DISTINCT stage FROM opportunity_views WHERE status = 'open'")
        )
        return {r.stage for r in rows}

    async def page(self, q: ListQuery) -> tuple[list[dict[str, Any]], str | None]:
        where = ["seq > :after"]
        params: dict[str, Any] = {"after": decode_seq(q.cursor) if q.cursor else 0}
        for name in FILTERS:
            value = getattr(q, name)
            if value is not None:
                where.append(f"{name} = :{name}")
                params[name] = value
        params["limit"] = q.limit + 1
        sql = (
            "SELECT seq, view FROM opportunity_views WHERE "  # noqa: S608 - fixed column names
            + " AND ".join(where)
            + " ORDER BY seq LIMIT :limit"
        )
        rows = list(await self._conn.execute(text(sql), params))
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        nxt = encode_seq(rows[-1].seq) if more and rows else None
        return [r.view for r in rows], nxt
