"""The demo organisation as a plan: given a seed, a shape, a profile, the months and 'now',
the same ordered list of business-time-stamped REST commands, every time. No I/O."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from shared.contracts.playbook import PlaybookDefinition
from shared.demo import org
from shared.demo.cross_region import CrossRegion, spread
from shared.demo.deals import DealSim
from shared.demo.plan import Command, DealRecord, Plan
from shared.demo.profiles import Profile, Shape, scale

MONTH = timedelta(days=365 / 12)
#: the directory and the accounts exist this long before the first lead
SETUP_LEAD_TIME = timedelta(days=30)


def _rng(seed: int, *labels: str) -> random.Random:
    """An independent, reproducible stream per purpose: the org and the lead flow do not
    depend on the profile, so `before` and `after` share them."""
    return random.Random(":".join([str(seed), *labels]))  # noqa: S311 (a simulation, not secrets)


def generate(
    *,
    seed: int,
    shape: Shape,
    profile: Profile,
    months: int,
    now: datetime,
    playbook: PlaybookDefinition,
    prefix: str = "",
) -> Plan:
    if now.tzinfo is None:
        raise ValueError("'now' needs a time zone")
    if not 1 <= months <= 36:
        raise ValueError("months must lie between 1 and 36")
    start = now - MONTH * months
    people = org.members(shape, prefix, _rng(seed, "org"))
    clients = org.accounts(shape, prefix, _rng(seed, "accounts"))
    commands = org.setup_commands(shape, prefix, people, clients, start - SETUP_LEAD_TIME)

    deals: list[DealRecord] = []
    leads = _rng(seed, "leads")
    reps = [m for m in people.values() if m.role == "rep"]
    for rep in reps:
        own = [a for a in clients if a.region == rep.region and rep.team.endswith(f"-{a.city}")]
        mine = own[reps.index(rep) % 4 :: 4] or own
        at = start + timedelta(days=leads.expovariate(profile.leads_per_rep_month / MONTH.days))
        while at < now:
            key = f"{prefix}d{len(deals) + 1:05d}"
            account = leads.choice(mine)
            sim = DealSim(
                key, account, rep, at, now, profile, playbook, _rng(seed, profile.name, key)
            )
            cmds, record = sim.run()
            commands += cmds
            deals.append(record)
            at += timedelta(days=leads.expovariate(profile.leads_per_rep_month / MONTH.days))

    xr = CrossRegion(
        _rng(seed, profile.name, "cross-region"),
        people,
        {a.account_id: a for a in clients},
        deals,
        now,
    )
    if shape.regions > 1:
        k = scale(shape)
        requests = spread(profile.requests_per_month * k, months)
        conflicts = spread(profile.conflicts_per_month * k, months)
        for m in range(months):
            span = (start + MONTH * m, start + MONTH * (m + 1))
            xr.month(*span, requests[m], conflicts[m], profile.approval_share)
    commands += xr.commands
    ordered = sorted(enumerate(commands), key=lambda ic: (ic[1].at, ic[0]))
    return Plan(start, now, people, clients, deals, [c for _, c in ordered], sorted(xr.conflicts))


def streams(commands: list[Command]) -> dict[str, list[Command]]:
    """The commands of each stream, in order."""
    out: dict[str, list[Command]] = {}
    for c in commands:
        out.setdefault(c.stream, []).append(c)
    return out
