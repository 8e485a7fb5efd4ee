"""Behaviour profiles of the demo organisation and the shapes (sizes) it comes in.

`before` is the organisation before it adopted the playbook's habits (slow first response,
sparse requirement documents, contact across regions without asking); `after` is the same
organisation a year later. The numbers are tuned so that a `full` run lands near the case
study's KPIs: lead response 5.2 → 1.8 days, requirement-confirmation completeness 43% → 89%,
cross-region conflicts 3.7 → 0.3 a month, deal cycle 142 → 98 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: the stage whose exit documents make up "requirement confirmation"
CONFIRMATION_STAGE = "needs_confirmed"
#: the organisation the conflict rates refer to (a `full` run)
REFERENCE_REPS = 68


@dataclass(frozen=True)
class Profile:
    name: str
    #: mean days from a lead's capture to the owner's first customer contact
    first_response_days: float
    #: mean days a deal sits in each stage before it advances (lead: after the first response)
    stage_days: dict[str, float]
    #: chance that a deal dies in a stage (closed as lost part-way through it)
    loss_by_stage: dict[str, float]
    #: mean days between routine follow-ups (calls, e-mails, visits, meetings)
    follow_up_days: float
    #: share of deals whose requirement-confirmation documents are filled completely
    complete_confirmation: float
    #: chance that each optional field of any other artifact is filled
    optional_fill: float
    #: chance that a rep submits a sparse draft of a document before the complete one
    draft_first: float
    #: chance, per stage, that an advance is attempted before the action package is complete
    premature_advance: float
    #: stakeholder roles mapped beyond what the gates demand
    extra_roles: int
    #: conflicts (contact without a grant) per month for an organisation of REFERENCE_REPS reps
    conflicts_per_month: float
    #: contact requests filed per month (same scale) and the share the owning region approves
    requests_per_month: float
    approval_share: float
    #: leads captured per rep per month (the same lead flow in both profiles)
    leads_per_rep_month: float = 2.5
    #: kinds of the first contact with a new lead
    first_contact_kinds: tuple[str, ...] = ("call", "email")


STAGES = ("lead", "initial_contact", "needs_confirmed", "solution_demo", "negotiation", "closing")

BEFORE = Profile(
    name="before",
    first_response_days=5.2,
    stage_days={
        "lead": 1.2,
        "initial_contact": 20.0,
        "needs_confirmed": 31.0,
        "solution_demo": 28.0,
        "negotiation": 35.0,
        "closing": 26.0,
    },
    loss_by_stage={
        "lead": 0.12,
        "initial_contact": 0.15,
        "needs_confirmed": 0.22,
        "solution_demo": 0.18,
        "negotiation": 0.15,
        "closing": 0.08,
    },
    follow_up_days=9.0,
    complete_confirmation=0.43,
    optional_fill=0.35,
    draft_first=0.10,
    premature_advance=0.35,
    extra_roles=0,
    conflicts_per_month=3.7,
    requests_per_month=1.0,
    approval_share=0.6,
)

AFTER = Profile(
    name="after",
    first_response_days=1.8,
    stage_days={
        "lead": 0.5,
        "initial_contact": 13.0,
        "needs_confirmed": 22.5,
        "solution_demo": 20.5,
        "negotiation": 25.5,
        "closing": 18.0,
    },
    loss_by_stage={
        "lead": 0.08,
        "initial_contact": 0.10,
        "needs_confirmed": 0.12,
        "solution_demo": 0.12,
        "negotiation": 0.10,
        "closing": 0.05,
    },
    follow_up_days=5.0,
    complete_confirmation=0.89,
    optional_fill=0.85,
    draft_first=0.30,
    premature_advance=0.08,
    extra_roles=2,
    conflicts_per_month=0.3,
    requests_per_month=5.0,
    approval_share=0.9,
    first_contact_kinds=("call", "visit", "interview"),
)

PROFILES = {p.name: p for p in (BEFORE, AFTER)}


@dataclass(frozen=True)
class City:
    key: str
    name: str
    name_zh: str


@dataclass(frozen=True)
class RegionSpec:
    key: str
    name: str
    name_zh: str
    cities: tuple[City, ...]


REGIONS = (
    RegionSpec(
        "east",
        "East",
        "华东",
        (
            City("sh", "Shanghai", "上海"),
            City("hz", "Hangzhou", "杭州"),
            City("nj", "Nanjing", "南京"),
        ),
    ),
    RegionSpec(
        "south",
        "South",
        "华南",
        (
            City("gz", "Guangzhou", "广州"),
            City("sz", "Shenzhen", "深圳"),
            City("xm", "Xiamen", "厦门"),
        ),
    ),
    RegionSpec(
        "north",
        "North",
        "华北",
        (City("bj", "Beijing", "北京"), City("tj", "Tianjin", "天津"), City("jn", "Jinan", "济南")),
    ),
    RegionSpec(
        "west",
        "West",
        "西部",
        (
            City("cd", "Chengdu", "成都"),
            City("cq", "Chongqing", "重庆"),
            City("xa", "Xi'an", "西安"),
        ),
    ),
)

SIZES = {"small": 8, "medium": 24, "full": REFERENCE_REPS}


@dataclass(frozen=True)
class Shape:
    """How many regions and teams (one team per city) carry `reps` reps."""

    reps: int
    regions: int
    teams: int
    reps_per_team: tuple[int, ...] = field(default=())

    @classmethod
    def of(cls, size: str | int) -> Shape:
        """`small`, `medium`, `full` or a number of reps (1-400): about six reps per team,
        up to three teams per region and four regions."""
        reps = SIZES[size] if isinstance(size, str) else size
        if not 1 <= reps <= 400:
            raise ValueError("the number of reps must lie between 1 and 400")
        teams_wanted = math.ceil(reps / 6)
        regions = min(len(REGIONS), teams_wanted)
        teams = min(3 * regions, max(regions, teams_wanted))
        base, extra = divmod(reps, teams)
        per_team = tuple(base + (1 if i < extra else 0) for i in range(teams))
        return cls(reps, regions, teams, per_team)


def scale(shape: Shape) -> float:
    """Organisation-wide rates (conflicts, requests) scale with the number of reps."""
    return shape.reps / REFERENCE_REPS
