"""The baseline: what a team would write by hand, FastAPI + asyncpg, one INSERT per POST.

Run as its own process (`python -m bench.crud_app`) like a service: CRUD_DATABASE_URL (a
postgresql:// DSN) and CRUD_PORT from the environment, one uvicorn worker on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Path, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    id uuid PRIMARY KEY,
    opportunity_id text NOT NULL,
    kind text NOT NULL,
    summary text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
TABLE = "crud_activities"
INSERT = (
    "INSERT INTO {table} (id, opportunity_id, kind, summary, payload, created_at)"
    " VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
)
POOL_SIZE = 20  # the pipeline service's engine: pool 10 + overflow 10

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]


class ActivityIn(BaseModel):
    """The same request schema as the pipeline's ActivityCreate."""

    model_config = ConfigDict(extra="forbid")

    kind: Id
    occurred_at: AwareDatetime | None = None
    contacts: list[ShortText] = Field(default_factory=list, max_length=50)
    summary: Annotated[str, Field(max_length=20_000)] = ""
    objections_raised: list[ShortText] = Field(default_factory=list, max_length=50)
    objections_resolved: list[ShortText] = Field(default_factory=list, max_length=50)
    next_step: Annotated[str, Field(max_length=20_000)] | None = None


class ActivityOut(BaseModel):
    id: str
    opportunity_id: str
    kind: str
    created_at: datetime


def row_values(opportunity_id: str, body: dict[str, Any]) -> tuple[Any, ...]:
    """The row of one activity: shared with the raw-insert section so both write the same."""
    now = datetime.now(UTC)
    return (
        uuid.uuid4(),
        opportunity_id,
        body["kind"],
        body.get("summary", ""),
        json.dumps(body, default=str),
        now,
    )


def create_app(dsn: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=4, max_size=POOL_SIZE)
        async with pool.acquire() as conn:
            await conn.execute(TABLE_DDL.format(table=TABLE))
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="CRUD baseline", lifespan=lifespan)
    insert = INSERT.format(table=TABLE)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/opportunities/{opportunity_id}/activities", status_code=201)
    async def log_activity(
        opportunity_id: Annotated[str, Path(min_length=1, max_length=100)],
        body: ActivityIn,
        request: Request,
    ) -> ActivityOut:
        values = row_values(opportunity_id, body.model_dump(mode="json"))
        await request.app.state.pool.execute(insert, *values)
        return ActivityOut(
            id=str(values[0]), opportunity_id=opportunity_id, kind=body.kind, created_at=values[5]
        )

    return app


def serve(app: FastAPI, port: int) -> None:
    """One uvicorn worker on loopback, quiet, as the bench runs every baseline."""
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def main() -> None:
    serve(create_app(os.environ["CRUD_DATABASE_URL"]), int(os.environ["CRUD_PORT"]))


if __name__ == "__main__":
    main()
