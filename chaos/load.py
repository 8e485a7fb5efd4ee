"""Steady command load across pipeline and collab, offered at a fixed rate (open loop)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from chaos.client import SYNC_KINDS, Client, Command
from chaos.org import REGIONS, World, open_deal

Step = Callable[[Client, World, random.Random], Awaitable[None]]


async def _open(client: Client, world: World, rng: random.Random) -> None:
    await open_deal(client, world, rng.choice(world.stable_accounts))


async def _log_activity(client: Client, world: World, rng: random.Random) -> None:
    deal = rng.choice(world.deals)
    kind = rng.choice(("call", "visit", "email"))
    body: dict[str, object] = {"kind": kind, "summary": "follow-up", "contacts": []}
    path = f"/opportunities/{deal.opportunity_id}/activities"
    await client.send(
        Command("log_activity", "pipeline", path, body, "east_rep", ("ActivityLogged",))
    )


async def _refused_activity(client: Client, world: World, rng: random.Random) -> None:
    """Another region's rep without a grant: a 403 that must leave nothing behind."""
    deal = rng.choice(world.deals)
    body = {"kind": "call", "summary": "cold call", "contacts": []}
    path = f"/opportunities/{deal.opportunity_id}/activities"
    await client.send(
        Command("foreign_activity", "pipeline", path, body, "south_rep", ("ActivityLogged",))
    )


def _synced(world: World, rng: random.Random, actor: str, region: str) -> dict[str, object]:
    deal = rng.choice(world.deals)
    log = {
        "external_id": f"pbx-{world.next_number()}-{rng.randrange(1 << 30)}",
        "channel": "phone",
        "contact": deal.phone,
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor_id": actor,
        "actor_region": region,
        "summary": "synced phone call",
    }
    return {"logs": [log]}


async def _sync_own(client: Client, world: World, rng: random.Random) -> None:
    body = _synced(world, rng, "rep-east", "east")
    await client.send(
        Command(
            "sync_activity", "pipeline", "/ingest/activities", body, "partner", ("ActivityLogged",)
        )
    )


async def _sync_conflict(client: Client, world: World, rng: random.Random) -> None:
    """A south rep's phone call to an east account, synced after the fact: one conflict."""
    body = _synced(world, rng, "rep-south", "south")
    await client.send(
        Command(
            "sync_conflict", "pipeline", "/ingest/activities", body, "partner", ("ActivityLogged",)
        )
    )


async def _transfer(client: Client, world: World, rng: random.Random) -> None:
    free = [a for a in world.owners if a not in world.moving]
    if not free:
        return
    account_id = rng.choice(free)
    world.moving.add(account_id)
    try:
        to_region = rng.choice([r for r in REGIONS if r != world.owners[account_id]])
        body = {"to_region": to_region, "reason": "territory change"}
        command = await client.send(
            Command(
                "transfer",
                "collab",
                f"/accounts/{account_id}/transfer",
                body,
                "admin",
                ("AccountOwnershipTransferred",),
            )
        )
        if command.succeeded:
            world.owners[account_id] = to_region
    finally:
        world.moving.discard(account_id)


async def _contact(client: Client, world: World, rng: random.Random) -> None:
    """A north rep asks for a grant and an admin approves it (the north rep never calls)."""
    now = datetime.now(UTC)
    body = {
        "purpose": "joint session",
        "window_start": now.isoformat(),
        "window_end": (now + timedelta(hours=2)).isoformat(),
    }
    account_id = rng.choice(world.stable_accounts)
    asked = await client.send(
        Command(
            "request_contact",
            "collab",
            f"/accounts/{account_id}/contact-requests",
            body,
            "north_rep",
            ("ContactRequested",),
        )
    )
    if not asked.succeeded:
        return
    path = f"/contact-requests/{asked.response['request_id']}/approve"
    await client.send(Command("approve_contact", "collab", path, {}, "admin", ("ContactApproved",)))


async def _repeat(client: Client, world: World, rng: random.Random) -> None:
    """A client that resends an answered command: the first answer again, nothing appended.
    (Synced logs are idempotent by external id instead; their repeat answers "duplicate".)"""
    answered = [
        c for c in client.log if c.succeeded and c.repeat_of is None and c.kind not in SYNC_KINDS
    ]
    if answered:
        await client.send(rng.choice(answered).repeat())


MIX: tuple[tuple[Step, int], ...] = (
    (_open, 2),
    (_log_activity, 5),
    (_refused_activity, 1),
    (_sync_own, 1),
    (_sync_conflict, 3),
    (_transfer, 1),
    (_contact, 1),
    (_repeat, 1),
)


async def drive(
    client: Client, world: World, rate: float, stop: asyncio.Event, seed: int = 7
) -> list[str]:
    """Start a step every 1/rate s until `stop` is set, then wait for the ones in flight.

    Returns the harness's own failures (a step that raised), which void the run."""
    failures: list[str] = []
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    steps = [step for step, _ in MIX]
    weights = [weight for _, weight in MIX]
    loop = asyncio.get_running_loop()
    began = loop.time()
    tasks: set[asyncio.Task[None]] = set()
    i = 0
    while not stop.is_set():
        step = rng.choices(steps, weights)[0]
        task = asyncio.create_task(_guarded(step, client, world, rng, failures))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
        delay = began + i / rate - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    if tasks:
        await asyncio.gather(*tasks)
    return failures


async def _guarded(
    step: Step, client: Client, world: World, rng: random.Random, failures: list[str]
) -> None:
    try:
        await step(client, world, rng)
    except Exception as exc:
        failures.append(f"{step.__name__}: {exc!r}")
