"""Who may do what in collab: role × own/other region × with/without a grant × action, as one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest

from services.collab_svc.domain import permissions as p
from services.collab_svc.domain.errors import NotPermittedError, OwnRegionError
from shared.identity import ROLES, Principal, Role

ACTOR_REGION = "east"


class Case(NamedTuple):
    role: Role
    own_region: bool  # the account belongs to the actor's region
    grant: bool  # the actor holds a valid contact grant on the account
    register: bool
    update: bool
    transfer: bool
    request: bool
    decide: bool  # approve or reject a contact request
    read: bool  # directory, accounts, the timeline
    contact: bool  # talk to the account's people without raising a conflict
    conflicts: bool  # list the region's conflicts
    write_org: bool


Y, N = True, False
OWN, OTHER = True, False
GRANT, NONE = True, False

# A grant changes the one thing it is for, contact; it widens no other decision.
# fmt: off
TABLE = [
    #    role                region  grant  register update transfer request decide read contact conflicts org
    Case("rep",              OWN,    NONE,  N,       N,     N,       N,      N,     Y,   Y,      N,        N),
    Case("rep",              OWN,    GRANT, N,       N,     N,       N,      N,     Y,   Y,      N,        N),
    Case("rep",              OTHER,  NONE,  N,       N,     N,       Y,      N,     Y,   N,      N,        N),
    Case("rep",              OTHER,  GRANT, N,       N,     N,       Y,      N,     Y,   Y,      N,        N),
    Case("supervisor",       OWN,    NONE,  N,       Y,     N,       N,      Y,     Y,   Y,      Y,        N),
    Case("supervisor",       OWN,    GRANT, N,       Y,     N,       N,      Y,     Y,   Y,      Y,        N),
    Case("supervisor",       OTHER,  NONE,  N,       N,     N,       Y,      N,     Y,   N,      N,        N),
    Case("supervisor",       OTHER,  GRANT, N,       N,     N,       Y,      N,     Y,   Y,      N,        N),
    Case("regional_manager", OWN,    NONE,  Y,       Y,     Y,       N,      Y,     Y,   Y,      Y,        N),
    Case("regional_manager", OWN,    GRANT, Y,       Y,     Y,       N,      Y,     Y,   Y,      Y,        N),
    Case("regional_manager", OTHER,  NONE,  N,       N,     N,       Y,      N,     Y,   N,      N,        N),
    Case("regional_manager", OTHER,  GRANT, N,       N,     N,       Y,      N,     Y,   Y,      N,        N),
    Case("admin",            OWN,    NONE,  Y,       Y,     Y,       N,      Y,     Y,   Y,      Y,        Y),
    Case("admin",            OWN,    GRANT, Y,       Y,     Y,       N,      Y,     Y,   Y,      Y,        Y),
    Case("admin",            OTHER,  NONE,  Y,       Y,     Y,       N,      Y,     Y,   N,      Y,        Y),
    Case("admin",            OTHER,  GRANT, Y,       Y,     Y,       N,      Y,     Y,   Y,      Y,        Y),
    Case("partner",          OWN,    NONE,  N,       N,     N,       N,      N,     Y,   Y,      N,        N),
    Case("partner",          OWN,    GRANT, N,       N,     N,       N,      N,     Y,   Y,      N,        N),
    Case("partner",          OTHER,  NONE,  N,       N,     N,       N,      N,     Y,   N,      N,        N),
    Case("partner",          OTHER,  GRANT, N,       N,     N,       N,      N,     Y,   Y,      N,        N),
    # the importer loads history: every write in every region, no reads
    Case("importer",         OWN,    NONE,  Y,       Y,     Y,       Y,      Y,     N,   Y,      N,        Y),
    Case("importer",         OWN,    GRANT, Y,       Y,     Y,       Y,      Y,     N,   Y,      N,        Y),
    Case("importer",         OTHER,  NONE,  Y,       Y,     Y,       Y,      Y,     N,   N,      N,        Y),
    Case("importer",         OTHER,  GRANT, Y,       Y,     Y,       Y,      Y,     N,   Y,      N,        Y),
]
# fmt: on

Check = Callable[[Principal, str], None]
#: action → the check the application runs (actor, the account's owning region)
CHECKS: dict[str, Check] = {
    "register": p.require_register_account,
    "update": p.require_update_account,
    "transfer": p.require_transfer_account,
    "request": p.require_request_contact,
    "decide": p.require_decide_contact,
    "read": lambda actor, _region: p.require_read(actor),
    "conflicts": p.require_read_conflicts,
    "write_org": lambda actor, _region: p.require_write_org(actor),
}


def case_id(case: Case) -> str:
    region = "own_region" if case.own_region else "other_region"
    return f"{case.role}-{region}-{'with' if case.grant else 'without'}_grant"


def actor_and_region(case: Case) -> tuple[Principal, str]:
    actor = Principal(sub="user-1", role=case.role, region=ACTOR_REGION, team="east-a")
    return actor, ACTOR_REGION if case.own_region else "south"


def allowed(check: Check, case: Case) -> bool:
    """True if the check lets the actor through; a refusal is a 403, or a 409 for own region."""
    try:
        check(*actor_and_region(case))
    except (OwnRegionError, NotPermittedError) as refused:
        status, own = refused.status, isinstance(refused, OwnRegionError)
    else:
        return True
    assert status == (409 if own else 403)
    return False


table = pytest.mark.parametrize("case", TABLE, ids=case_id)


def test_the_table_covers_every_combination_once() -> None:
    combos = {(c.role, c.own_region, c.grant) for c in TABLE}

    assert len(combos) == len(TABLE) == len(ROLES) * 2 * 2


@table
@pytest.mark.parametrize("action", list(CHECKS))
def test_each_check_answers_as_the_table_says(case: Case, action: str) -> None:
    # the checks never see the grant: the rows with and without one must agree
    assert allowed(CHECKS[action], case) is getattr(case, action)


@table
def test_the_may_functions_agree_with_the_checks(case: Case) -> None:
    actor, region = actor_and_region(case)

    assert p.may_register_account(actor, region) is case.register
    assert p.may_update_account(actor, region) is case.update
    assert p.may_transfer_account(actor, region) is case.transfer
    assert p.may_request_contact(actor, region) is case.request
    assert p.may_decide_contact(actor, region) is case.decide
    assert p.may_read(actor) is case.read


@table
def test_contact_needs_the_owning_region_or_a_grant(case: Case) -> None:
    actor, region = actor_and_region(case)

    assert p.may_contact(actor.region, region, case.grant) is case.contact


def test_a_request_for_an_own_account_says_so_and_names_the_owner() -> None:
    rep = Principal(sub="rep-9", role="rep", region="east", team="east-a")

    with pytest.raises(OwnRegionError, match="contact it directly") as refused:
        p.require_request_contact(rep, "east")

    assert refused.value.extensions == {"owning_region": "east"}


def test_a_refused_update_names_the_owning_region() -> None:
    manager = Principal(sub="rm-s", role="regional_manager", region="south", team="south-a")

    with pytest.raises(NotPermittedError, match="region east owns this account") as refused:
        p.require_update_account(manager, "east")

    assert refused.value.extensions == {"owning_region": "east"}
