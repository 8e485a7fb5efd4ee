"""The same-work baseline: the activity command written the conventional way, no event sourcing.

FastAPI + asyncpg, one uvicorn worker, the pipeline's request schema. Per POST it verifies the
same HS256 bearer token (verified tokens cached until they expire, as the pipeline does), then
in one transaction locks the opportunity row, checks owner, region and that the deal is open,
inserts the activity row, updates the opportunity row (last activity, count, version), inserts
an outbox row carrying the event a partner would get, commits and returns the opportunity.

Run as its own process (`python -m bench.same_work_app`): SAME_WORK_DATABASE_URL (postgresql://
DSN), SAME_WORK_PORT and SAME_WORK_JWT_SECRET from the environment.
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
import jwt
from fastapi import FastAPI, Header, HTTPException, Path, Request

from bench.crud_app import POOL_SIZE, ActivityIn, serve

DDL = [
    """
    CREATE TABLE IF NOT EXISTS sw_opportunities (
        id text PRIMARY KEY,
        account_id text NOT NULL,
        owner_id text NOT NULL,
        region text NOT NULL,
        stage text NOT NULL,
        status text NOT NULL,
        activity_count integer NOT NULL DEFAULT 0,
        last_activity_at timestamptz,
        version integer NOT NULL DEFAULT 1
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sw_activities (
        id uuid PRIMARY KEY,
        opportunity_id text NOT NULL REFERENCES sw_opportunities (id),
        kind text NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sw_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL,
        partition_key text NOT NULL,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        published_at timestamptz
    )
    """,
]
LOCK = (
    "SELECT id, account_id, owner_id, region, stage, status, activity_count, version"
    " FROM sw_opportunities WHERE id = $1 FOR UPDATE"
)
INSERT_ACTIVITY = (
    "INSERT INTO sw_activities (id, opportunity_id, kind, payload, occurred_at, recorded_at)"
    " VALUES ($1, $2, $3, $4::jsonb, $5, $6)"
)
UPDATE = (
    "UPDATE sw_opportunities SET activity_count = activity_count + 1, last_activity_at = $2,"
    " version = version + 1 WHERE id = $1"
    " RETURNING id, account_id, owner_id, region, stage, status, activity_count,"
    " last_activity_at, version"
)
OUTBOX = (
    "INSERT INTO sw_outbox (event_id, partition_key, event_type, payload)"
    " VALUES ($1, $2, 'sightline.pipeline.ActivityLogged.v1', $3::jsonb)"
)
SEED = (
    "INSERT INTO sw_opportunities (id, account_id, owner_id, region, stage, status)"
    " VALUES ($1, $2, $3, $4, 'lead', 'open') ON CONFLICT (id) DO NOTHING"
)


class TokenCache:
    """HS256 verification with the claims the services require, cached until expiry."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._verified: dict[str, dict[str, Any]] = {}

    def claims(self, authorization: str | None) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "bearer token required")
        token = authorization[7:]
        claims = self._verified.get(token)
        now = datetime.now(UTC).timestamp()
        if claims is None or claims["exp"] <= now:
            try:
                claims = jwt.decode(
                    token,
                    self._secret,
                    algorithms=["HS256"],
                    options={"require": ["sub", "role", "region", "team", "exp"]},
                )
            except jwt.PyJWTError as exc:
                raise HTTPException(401, f"invalid token: {exc}") from exc
            self._verified[token] = claims
        return claims


async def seed(dsn: str, opportunities: list[tuple[str, str, str, str]]) -> None:
    """Create the tables and the deals (id, account, owner, region) the load will touch."""
    conn = await asyncpg.connect(dsn)
    try:
        for ddl in DDL:
            await conn.execute(ddl)
        await conn.executemany(SEED, opportunities)
    finally:
        await conn.close()


def _event(opp: asyncpg.Record, body: ActivityIn, activity_id: uuid.UUID, at: datetime) -> str:
    return json.dumps(
        {
            "opportunity_id": opp["id"],
            "account_id": opp["account_id"],
            "activity_id": str(activity_id),
            "kind": body.kind,
            "customer_facing": True,
            "stage": opp["stage"],
            "occurred_at": at.isoformat(),
            "contacts": body.contacts,
            "summary": body.summary,
            "objections_raised": body.objections_raised,
            "objections_resolved": body.objections_resolved,
            "next_step": body.next_step,
        }
    )


def create_app(dsn: str, secret: str) -> FastAPI:
    tokens = TokenCache(secret)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=4, max_size=POOL_SIZE)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="Same-work baseline", lifespan=lifespan)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/opportunities/{opportunity_id}/activities", status_code=201)
    async def log_activity(
        opportunity_id: Annotated[str, Path(min_length=1, max_length=100)],
        body: ActivityIn,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        claims = tokens.claims(authorization)
        now = datetime.now(UTC)
        at = body.occurred_at or now
        activity_id = uuid.uuid4()
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            opp = await conn.fetchrow(LOCK, opportunity_id)
            if opp is None:
                raise HTTPException(404, "no such opportunity")
            if opp["region"] != claims["region"] or (
                claims["role"] == "rep" and opp["owner_id"] != claims["sub"]
            ):
                raise HTTPException(403, "not yours")
            if opp["status"] != "open":
                raise HTTPException(409, "the deal is closed")
            payload = body.model_dump(mode="json")
            await conn.execute(
                INSERT_ACTIVITY,
                activity_id,
                opportunity_id,
                body.kind,
                json.dumps(payload),
                at,
                now,
            )
            row = await conn.fetchrow(UPDATE, opportunity_id, at)
            await conn.execute(
                OUTBOX, uuid.uuid4(), opp["account_id"], _event(opp, body, activity_id, at)
            )
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}

    return app


def main() -> None:
    app = create_app(os.environ["SAME_WORK_DATABASE_URL"], os.environ["SAME_WORK_JWT_SECRET"])
    serve(app, int(os.environ["SAME_WORK_PORT"]))


if __name__ == "__main__":
    main()
