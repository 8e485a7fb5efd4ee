"""The organisation: regions, city teams, members with their managers, and group accounts."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from shared.demo.plan import Account, Command, Member
from shared.demo.profiles import REGIONS, City, RegionSpec, Shape

IMPORTER = "demo-importer"
SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo"
GIVEN = "Wei Fang Na Min Jing Lei Yang Jun Tao Hui Qiang Yan Jie Ping Gang Xia Hao Ying Bo Lin"
BRANDS = (
    "Huachen Hengtai Zhongke Xinda Jinghua Tianrun Haixin Ruifeng Changjiang Dongfang Kaiyuan "
    "Shengda Yongxin Guotai Hongyu Baosheng Lianchuang Minghai Xingyuan Jiahe"
)
INDUSTRIES = (
    "industrial equipment",
    "medical devices",
    "manufacturing SaaS",
    "logistics",
    "energy",
    "automotive parts",
)
#: share of accounts that are subsidiaries of a group (集团) present in several regions
GROUP_SHARE = 0.3
ACCOUNTS_PER_REP = 4


def _name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES.split())} {rng.choice(GIVEN.split())}"


def teams_of(shape: Shape) -> list[tuple[RegionSpec, City, int]]:
    """Team i sits in region i mod regions, in that region's next city, with its reps."""
    out = []
    for i, reps in enumerate(shape.reps_per_team):
        region = REGIONS[i % shape.regions]
        out.append((region, region.cities[i // shape.regions], reps))
    return out


def team_id(prefix: str, region: RegionSpec, city: City) -> str:
    return f"{prefix}{region.key}-{city.key}"


def members(shape: Shape, prefix: str, rng: random.Random) -> dict[str, Member]:
    """A regional manager per region, a supervisor per team, and the reps under them."""
    out: dict[str, Member] = {}
    teams = teams_of(shape)
    for region in REGIONS[: shape.regions]:
        first = next(t for t in teams if t[0] is region)
        rm = f"{prefix}rm-{region.key}"
        out[rm] = Member(
            rm,
            _name(rng),
            "regional_manager",
            prefix + region.key,
            team_id(prefix, *first[:2]),
            None,
        )
    for region, city, reps in teams:
        tid = team_id(prefix, region, city)
        sup = f"{prefix}sup-{region.key}-{city.key}"
        out[sup] = Member(
            sup, _name(rng), "supervisor", prefix + region.key, tid, f"{prefix}rm-{region.key}"
        )
        for n in range(1, reps + 1):
            rep = f"{prefix}rep-{region.key}-{city.key}-{n:02d}"
            out[rep] = Member(rep, _name(rng), "rep", prefix + region.key, tid, sup)
    return out


def accounts(shape: Shape, prefix: str, rng: random.Random) -> list[Account]:
    """About four accounts per rep in each team's city; some belong to groups spanning regions."""
    out: list[Account] = []
    teams = teams_of(shape)
    groups = [f"{prefix}grp-{b.lower()}" for b in BRANDS.split()]
    n = 0
    for region, city, reps in teams:
        for _ in range(reps * ACCOUNTS_PER_REP):
            n += 1
            industry = rng.choice(INDUSTRIES)
            if shape.regions > 1 and rng.random() < GROUP_SHARE:
                group = rng.choice(groups[: max(2, shape.regions * 3)])
                brand = group.rsplit("-", 1)[1].title()
                name = f"{brand} {city.name} {n:03d}"
            else:
                group = None
                name = f"{rng.choice(BRANDS.split())} {city.name} Co. {n:03d}"
            out.append(
                Account(
                    f"{prefix}acct-{n:04d}", name, prefix + region.key, city.key, group, industry
                )
            )
    return out


def setup_commands(
    shape: Shape,
    prefix: str,
    people: dict[str, Member],
    clients: list[Account],
    at: datetime,
) -> list[Command]:
    """Regions, teams, members (managers first) and accounts, a second apart from `at` on."""
    cmds: list[Command] = []

    def add(phase: str, stream: str, path: str, body: Mapping[str, object], records: str) -> None:
        t = at + timedelta(seconds=len(cmds))
        full = {**body, "occurred_at": t.isoformat()}
        cmds.append(Command(t, phase, stream, "collab", path, full, IMPORTER, records, 201))

    for region in REGIONS[: shape.regions]:
        rid = prefix + region.key
        body: dict[str, object] = {"region_id": rid, "name": region.name, "name_zh": region.name_zh}
        add("regions", f"region-{rid}", "/org/regions", body, "RegionDefined")
    for region, city, _ in teams_of(shape):
        tid = team_id(prefix, region, city)
        body = {"team_id": tid, "region_id": prefix + region.key, "name": f"{city.name} team"}
        add("teams", f"team-{tid}", "/org/teams", body, "TeamFormed")
    phases = {"regional_manager": "managers", "supervisor": "supervisors", "rep": "reps"}
    for role in ("regional_manager", "supervisor", "rep"):
        for m in (m for m in people.values() if m.role == role):
            body = {
                "member_id": m.member_id,
                "name": m.name,
                "email": f"{m.member_id}@sightline.example",
                "role": m.role,
                "region_id": m.region,
                "team_id": m.team,
                "manager_id": m.manager_id,
            }
            add(phases[role], f"member-{m.member_id}", "/org/members", body, "MemberAssigned")
    for a in clients:
        body = {
            "account_id": a.account_id,
            "name": a.name,
            "owning_region": a.region,
            "group_id": a.group_id,
            "industry": a.industry,
        }
        add("accounts", f"account-{a.account_id}", "/accounts", body, "AccountRegistered")
    return cmds
