"""Who may do what to an opportunity: role × region × ownership × team, as one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest

from services.pipeline_svc.domain.errors import NotPermittedError
from services.pipeline_svc.domain.permissions import (
    may_manage,
    may_read,
    require_admin,
    require_open,
    require_reassign,
)
from shared.identity import ROLES, Principal, Role

ACTOR_REGION, ACTOR_TEAM, ACTOR_SUB = "east", "east-a", "user-1"


class Case(NamedTuple):
    role: Role
    same_region: bool
    own_deal: bool
    same_team: bool
    manage: bool
    open: bool
    reassign: bool
    read: bool


Y, N = True, False
SAME, OTHER = True, False
OWN = True

# fmt: off
TABLE = [
    #    role                region  deal   team     manage open reassign read
    Case("rep",              SAME,   OWN,   SAME,    Y,     Y,   N,       Y),
    Case("rep",              SAME,   OWN,   OTHER,   Y,     N,   N,       Y),
    Case("rep",              SAME,   OTHER, SAME,    N,     N,   N,       Y),
    Case("rep",              SAME,   OTHER, OTHER,   N,     N,   N,       Y),
    Case("rep",              OTHER,  OWN,   SAME,    N,     N,   N,       N),
    Case("rep",              OTHER,  OWN,   OTHER,   N,     N,   N,       N),
    Case("rep",              OTHER,  OTHER, SAME,    N,     N,   N,       N),
    Case("rep",              OTHER,  OTHER, OTHER,   N,     N,   N,       N),
    Case("supervisor",       SAME,   OWN,   SAME,    Y,     Y,   Y,       Y),
    Case("supervisor",       SAME,   OWN,   OTHER,   N,     N,   N,       Y),
    Case("supervisor",       SAME,   OTHER, SAME,    Y,     Y,   Y,       Y),
    Case("supervisor",       SAME,   OTHER, OTHER,   N,     N,   N,       Y),
    Case("supervisor",       OTHER,  OWN,   SAME,    N,     N,   N,       N),
    Case("supervisor",       OTHER,  OWN,   OTHER,   N,     N,   N,       N),
    Case("supervisor",       OTHER,  OTHER, SAME,    N,     N,   N,       N),
    Case("supervisor",       OTHER,  OTHER, OTHER,   N,     N,   N,       N),
    Case("regional_manager", SAME,   OWN,   SAME,    Y,     Y,   Y,       Y),
    Case("regional_manager", SAME,   OWN,   OTHER,   Y,     Y,   Y,       Y),
    Case("regional_manager", SAME,   OTHER, SAME,    Y,     Y,   Y,       Y),
    Case("regional_manager", SAME,   OTHER, OTHER,   Y,     Y,   Y,       Y),
    Case("regional_manager", OTHER,  OWN,   SAME,    N,     N,   N,       N),
    Case("regional_manager", OTHER,  OWN,   OTHER,   N,     N,   N,       N),
    Case("regional_manager", OTHER,  OTHER, SAME,    N,     N,   N,       N),
    Case("regional_manager", OTHER,  OTHER, OTHER,   N,     N,   N,       N),
    Case("admin",            SAME,   OWN,   SAME,    Y,     Y,   Y,       Y),
    Case("admin",            SAME,   OWN,   OTHER,   Y,     Y,   Y,       Y),
    Case("admin",            SAME,   OTHER, SAME,    Y,     Y,   Y,       Y),
    Case("admin",            SAME,   OTHER, OTHER,   Y,     Y,   Y,       Y),
    Case("admin",            OTHER,  OWN,   SAME,    Y,     Y,   Y,       Y),
    Case("admin",            OTHER,  OWN,   OTHER,   Y,     Y,   Y,       Y),
    Case("admin",            OTHER,  OTHER, SAME,    Y,     Y,   Y,       Y),
    Case("admin",            OTHER,  OTHER, OTHER,   Y,     Y,   Y,       Y),
    Case("partner",          SAME,   OWN,   SAME,    N,     N,   N,       Y),
    Case("partner",          SAME,   OWN,   OTHER,   N,     N,   N,       Y),
    Case("partner",          SAME,   OTHER, SAME,    N,     N,   N,       Y),
    Case("partner",          SAME,   OTHER, OTHER,   N,     N,   N,       Y),
    Case("partner",          OTHER,  OWN,   SAME,    N,     N,   N,       Y),
    Case("partner",          OTHER,  OWN,   OTHER,   N,     N,   N,       Y),
    Case("partner",          OTHER,  OTHER, SAME,    N,     N,   N,       Y),
    Case("partner",          OTHER,  OTHER, OTHER,   N,     N,   N,       Y),
    # the importer loads history: it writes in every region and reads nothing
    Case("importer",         SAME,   OWN,   SAME,    Y,     Y,   Y,       N),
    Case("importer",         SAME,   OWN,   OTHER,   Y,     Y,   Y,       N),
    Case("importer",         SAME,   OTHER, SAME,    Y,     Y,   Y,       N),
    Case("importer",         SAME,   OTHER, OTHER,   Y,     Y,   Y,       N),
    Case("importer",         OTHER,  OWN,   SAME,    Y,     Y,   Y,       N),
    Case("importer",         OTHER,  OWN,   OTHER,   Y,     Y,   Y,       N),
    Case("importer",         OTHER,  OTHER, SAME,    Y,     Y,   Y,       N),
    Case("importer",         OTHER,  OTHER, OTHER,   Y,     Y,   Y,       N),
]
# fmt: on


def case_id(case: Case) -> str:
    return "-".join(
        [
            case.role,
            "same_region" if case.same_region else "other_region",
            "own_deal" if case.own_deal else "other_deal",
            "same_team" if case.same_team else "other_team",
        ]
    )


def actor_and_deal(case: Case) -> tuple[Principal, str, str, str]:
    """The actor, and the (region, team, owner) of the deal it acts on."""
    actor = Principal(sub=ACTOR_SUB, role=case.role, region=ACTOR_REGION, team=ACTOR_TEAM)
    region = ACTOR_REGION if case.same_region else "south"
    team = ACTOR_TEAM if case.same_team else "east-b"
    owner = ACTOR_SUB if case.own_deal else "user-2"
    return actor, region, team, owner


def allowed(check: Callable[[Principal, str, str, str], None], case: Case) -> bool:
    """True if the check lets the actor through; a refusal must be a 403."""
    try:
        check(*actor_and_deal(case))
    except NotPermittedError as refused:
        status = refused.status
    else:
        return True
    assert status == 403
    return False


table = pytest.mark.parametrize("case", TABLE, ids=case_id)


def test_the_table_covers_every_combination_once() -> None:
    combos = {(c.role, c.same_region, c.own_deal, c.same_team) for c in TABLE}

    assert len(combos) == len(TABLE) == len(ROLES) * 2 * 2 * 2


@table
def test_may_manage(case: Case) -> None:
    assert may_manage(*actor_and_deal(case)) is case.manage


@table
def test_require_open(case: Case) -> None:
    assert allowed(require_open, case) is case.open


@table
def test_require_reassign(case: Case) -> None:
    assert allowed(require_reassign, case) is case.reassign


@table
def test_may_read(case: Case) -> None:
    actor, region, _, _ = actor_and_deal(case)

    assert may_read(actor, region) is case.read


def test_a_rep_is_told_that_reassigning_needs_a_manager() -> None:
    rep = Principal(sub="rep-9", role="rep", region="east", team="east-a")

    with pytest.raises(NotPermittedError, match="needs a supervisor"):
        require_reassign(rep, "east", "east-a", "rep-9")


def test_a_refusal_outside_the_region_names_the_actor_and_the_deal_region() -> None:
    manager = Principal(sub="rm-1", role="regional_manager", region="east", team="east-mgmt")

    with pytest.raises(NotPermittedError, match="regional_manager of region east") as refused:
        require_open(manager, "south", "south-a", "rep-3")

    assert refused.value.extensions == {"region": "south"}


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_pass_require_admin(role: Role) -> None:
    actor = Principal(sub="u", role=role, region="east", team="east-a")

    if role == "admin":
        require_admin(actor)
    else:
        with pytest.raises(NotPermittedError):
            require_admin(actor)
