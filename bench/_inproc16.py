"""The activity command driven in process: the app called through ASGI, no HTTP server.

    python -m bench.inproc pipeline|same-work DATABASE_URL [COMMANDS] [ROUNDS]

Opens 20 deals (accounts fed as collab's consumer would), sends 600 warm commands, then
ROUNDS rounds of COMMANDS, four in flight, and prints the CPU per command of each round's
fastest and median. The CPU time of one process on a shared machine moves a lot between
runs; for figures that do not, count instructions (`bench/README.md`):

    valgrind --tool=callgrind python -m bench.inproc pipeline URL 200 1
    valgrind --tool=callgrind python -m bench.inproc pipeline URL 600 1

and divide the difference of the two totals by 400.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import uvloop
from starlette.types import ASGIApp, Message

from bench.sections.commands import ACTIVITY
from shared.auth import issue_token
from shared.settings import DEV_JWT_SECRET

DEALS = 200
IN_FLIGHT = 16
WARM = 600
BODY = json.dumps(ACTIVITY).encode()  # the body the HTTP bench sends
TOKEN = issue_token(DEV_JWT_SECRET, sub="rep-1", role="rep", region="east", team="east-1")


async def call(app: ASGIApp, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """One request through the app's ASGI interface: its status and body."""
    headers = [
        (b"authorization", f"Bearer {TOKEN}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "state": {},
    }
    sent = False
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def _pipeline_deals(app: Any) -> list[str]:
    from services.pipeline_svc.adapters.collab import apply_collab_event
    from shared.contracts.collab import AccountRegistered
    from shared.events.envelope import Envelope

    ids = []
    for _ in range(DEALS):
        account = f"acc-{uuid.uuid4().hex[:8]}"
        now = datetime.now(UTC)
        event = AccountRegistered(
            occurred_at=now, account_id=account, name=account, owning_region="east", actor_id="a"
        )
        envelope = Envelope(uuid.uuid4(), f"s-{account}", "bench", 1, event, now, account)
        async with app.state.pipeline.engine.begin() as conn:
            await apply_collab_event(conn, envelope)
        deal = {
            "account_id": account,
            "title": "CNC lines",
            "amount": "1200000",
            "expected_close_date": "2027-03-31",
        }
        status, answer = await call(app, "POST", "/opportunities", json.dumps(deal).encode())
        assert status == 201, answer
        ids.append(json.loads(answer)["id"])
    return ids


async def drive(target: str, dsn: str, commands: int, rounds: int) -> list[float]:
    """CPU milliseconds per command of each measured round."""
    if target == "pipeline":
        from services.pipeline_svc.bootstrap import create_app
        from shared.settings import Settings

        settings = Settings.model_validate(
            {"service": "pipeline", "DATABASE_URL": dsn, "mode": "api", "db_pool_size": 20}
        )
        app: Any = create_app(settings)
        ok = 200
        deals: Callable[[], Awaitable[list[str]]] = lambda: _pipeline_deals(app)  # noqa: E731
    else:
        from bench.same_work_app import create_app as same_work_app
        from bench.same_work_app import seed

        plain = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        ids = [f"sw-{uuid.uuid4().hex[:8]}" for _ in range(DEALS)]
        await seed(plain, [(i, "acc", "rep-1", "east") for i in ids])
        app = same_work_app(plain, DEV_JWT_SECRET)
        ok = 201

        async def known() -> list[str]:
            return ids

        deals = known
    async with app.router.lifespan_context(app):
        ids = await deals()

        async def worker(k: int, n: int) -> None:
            for j in range(n):
                path = f"/opportunities/{ids[(k * 7 + j) % DEALS]}/activities"
                status, answer = await call(app, "POST", path, BODY)
                assert status == ok, answer

        await asyncio.gather(*(worker(k, WARM // IN_FLIGHT) for k in range(IN_FLIGHT)))
        cpu = []
        for _ in range(rounds):
            started = time.process_time()
            await asyncio.gather(*(worker(k, commands // IN_FLIGHT) for k in range(IN_FLIGHT)))
            cpu.append(1000 * (time.process_time() - started) / commands)
        return cpu


def main() -> None:
    target, dsn = sys.argv[1], sys.argv[2]
    commands = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    if target not in ("pipeline", "same-work"):
        raise SystemExit("target: pipeline or same-work")
    # uvloop, as uvicorn runs the services and the baselines: on asyncio's own loop each
    # round trip costs far more Python, which flatters the app that makes fewer
    cpu = sorted(uvloop.run(drive(target, dsn, commands, rounds)))
    print(f"{target}: CPU per command {cpu[0]:.3f} ms fastest, {cpu[len(cpu) // 2]:.3f} median")


if __name__ == "__main__":
    main()
