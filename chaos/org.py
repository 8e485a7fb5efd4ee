"""The organisation the load runs in: regions, teams, members, accounts, and first deals."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg

from chaos.client import Client, Command
from chaos.stack import ACTORS, Stack

REGIONS = ("east", "south", "north")
#: the region every account starts in; deals are opened only on accounts that stay with it
OWNER_REGION = "east"
LEARN_TIMEOUT_S = 60.0


class SeedError(RuntimeError):
    """The organisation could not be set up: the run cannot start."""


@dataclass(frozen=True)
class Deal:
    opportunity_id: str
    account_id: str
    #: the stakeholder's phone, which synced phone logs are matched by
    phone: str


@dataclass
class World:
    """What the load knows of the data it made (only from answers it received)."""

    #: accounts owned by east for the whole run: deals, activities, conflicts, grants
    stable_accounts: list[str]
    #: accounts whose ownership moves between regions (no deals on them)
    owners: dict[str, str]
    deals: list[Deal] = field(default_factory=list)
    moving: set[str] = field(default_factory=set)
    counter: int = 0

    def next_number(self) -> int:
        self.counter += 1
        return self.counter


async def _admin(client: Client, kind: str, path: str, body: dict[str, str], event: str) -> None:
    """A collab command of the set-up, which must succeed for the run to mean anything."""
    command = await client.send(Command(kind, "collab", path, body, "admin", (event,)))
    if not command.succeeded:
        raise SeedError(
            f"{kind} {path}: {command.status} {command.response!r} (attempts {command.attempts})"
        )


async def seed(client: Client, stack: Stack, accounts: int, transfer_accounts: int) -> World:
    for region in REGIONS:
        body = {"region_id": region, "name": region.title()}
        await _admin(client, "define_region", "/org/regions", body, "RegionDefined")
        body = {"team_id": f"{region}-1", "region_id": region, "name": f"{region} team"}
        await _admin(client, "form_team", "/org/teams", body, "TeamFormed")
    for name in ("east_rep", "south_rep", "north_rep"):
        sub, role, region, team = ACTORS[name]
        body = {"member_id": sub, "name": sub, "role": role, "region_id": region, "team_id": team}
        await _admin(client, "assign_member", "/org/members", body, "MemberAssigned")
    world = World(
        stable_accounts=[f"acc-{i}" for i in range(accounts)],
        owners={f"moving-{i}": OWNER_REGION for i in range(transfer_accounts)},
    )
    for account_id in [*world.stable_accounts, *world.owners]:
        body = {
            "account_id": account_id,
            "name": f"{account_id} Co.",
            "owning_region": OWNER_REGION,
        }
        await _admin(client, "register_account", "/accounts", body, "AccountRegistered")
    await _wait_until_known(stack, len(world.stable_accounts) + len(world.owners))
    for account_id in world.stable_accounts:
        await open_deal(client, world, account_id)
    if len(world.deals) < len(world.stable_accounts):
        raise SeedError("the first deals could not all be opened; see the command log")
    return world


async def open_deal(client: Client, world: World, account_id: str) -> Deal | None:
    """Open a deal for the east rep and map a stakeholder whose phone synced logs will name."""
    n = world.next_number()
    body = {
        "account_id": account_id,
        "title": f"deal {n} with {account_id}",
        "amount": "250000",
        "expected_close_date": "2027-06-30",
    }
    opened = await client.send(
        Command("open_deal", "pipeline", "/opportunities", body, "east_rep", ("OpportunityOpened",))
    )
    if not opened.succeeded:
        return None
    opp_id = str(opened.response["id"])
    phone = f"+86 21 {n // 10000:04d} {n % 10000:04d}"
    stakeholder = {"name": f"Eng. {n}", "role": "technical_evaluator", "phone": phone}
    mapped = await client.send(
        Command(
            "map_stakeholder",
            "pipeline",
            f"/opportunities/{opp_id}/stakeholders",
            stakeholder,
            "east_rep",
            ("StakeholderMapped",),
        )
    )
    if not mapped.succeeded:
        return None
    deal = Deal(opp_id, account_id, phone)
    world.deals.append(deal)
    return deal


async def _wait_until_known(stack: Stack, count: int) -> None:
    """The pipeline learns accounts from collab's events; deals wait until it has them all."""
    deadline = time.monotonic() + LEARN_TIMEOUT_S
    known = 0
    while time.monotonic() < deadline:
        conn = await asyncpg.connect(stack.dsn("pipeline"))
        try:
            known = await conn.fetchval("SELECT count(*) FROM known_accounts")
        finally:
            await conn.close()
        if known >= count:
            return
        await asyncio.sleep(0.3)
    raise SeedError(f"the pipeline knew {known} of {count} accounts after {LEARN_TIMEOUT_S:.0f}s")
