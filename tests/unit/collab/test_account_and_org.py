"""Account and org decisions: references must exist, no-op changes record nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.collab_svc.domain import commands as c
from services.collab_svc.domain.account import Account
from services.collab_svc.domain.errors import AlreadyExistsError, UnknownReferenceError
from services.collab_svc.domain.org import Member, Region, Team
from shared.contracts import collab as ev
from shared.errors import ValidationFailedError
from shared.events.base import DomainEvent
from shared.identity import Principal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal(sub="admin-1", role="admin", region="hq", team="hq")


def region(region_id: str = "east") -> Region:
    r = Region(region_id)
    for e in r.define(c.DefineRegion(region_id, region_id.title()), ADMIN, T0):
        r.apply(e)
    return r


def team(team_id: str = "east-a", region_id: str = "east") -> Team:
    t = Team(team_id)
    for e in t.form(c.FormTeam(team_id, region_id, "A"), region(region_id), ADMIN, T0):
        t.apply(e)
    return t


def assignment(member_id: str = "m-1", **kw: str | None) -> c.AssignMember:
    fields: dict[str, str | None] = {
        "name": "Wang",
        "region_id": "east",
        "team_id": "east-a",
        "manager_id": None,
    }
    fields.update(kw)
    return c.AssignMember(member_id, role="rep", **fields)  # type: ignore[arg-type]


def registered(**kw: str | None) -> Account:
    cmd = c.RegisterAccount("acme", "Acme", "east", group_id=kw.get("group_id"))
    account = Account("acme")
    for e in account.register(cmd, region(), ADMIN, T0):
        account.apply(e)
    return account


def apply(target: Account | Member, events: list[DomainEvent]) -> None:
    for e in events:
        target.apply(e)


class TestOrg:
    def test_a_region_is_defined_once(self) -> None:
        with pytest.raises(AlreadyExistsError):
            region().define(c.DefineRegion("east", "East"), ADMIN, T0)

    def test_a_team_needs_a_defined_region(self) -> None:
        with pytest.raises(UnknownReferenceError) as refused:
            Team("t").form(c.FormTeam("t", "atlantis", "A"), Region("atlantis"), ADMIN, T0)

        assert refused.value.extensions == {"field": "region_id"}

    @pytest.mark.parametrize(
        ("cmd", "the_team", "manager", "field"),
        [
            (assignment(team_id="nope"), Team("nope"), None, "team_id"),
            (assignment(region_id="south"), team(), None, "team_id"),
            (assignment(manager_id="ghost"), team(), Member("ghost"), "manager_id"),
            (assignment(manager_id="m-1"), team(), None, "manager_id"),
        ],
    )
    def test_a_member_is_placed_in_a_team_of_their_region_under_a_known_manager(
        self, cmd: c.AssignMember, the_team: Team, manager: Member | None, field: str
    ) -> None:
        with pytest.raises(UnknownReferenceError) as refused:
            Member("m-1").assign(cmd, the_team, manager, ADMIN, T0)

        assert refused.value.extensions == {"field": field}

    def test_re_assigning_records_again_and_an_unchanged_assignment_nothing(self) -> None:
        member = Member("m-1")
        apply(member, member.assign(assignment(), team(), None, ADMIN, T0))

        moved = member.assign(assignment(team_id="east-b"), team("east-b"), None, ADMIN, T0)

        assert [type(e) for e in moved] == [ev.MemberAssigned]
        apply(member, moved)
        assert (member.version, member.team_id) == (2, "east-b")
        assert member.assign(assignment(team_id="east-b"), team("east-b"), None, ADMIN, T0) == []


class TestAccount:
    def test_registration_needs_a_defined_region_and_happens_once(self) -> None:
        cmd = c.RegisterAccount("x", "X", "atlantis")
        with pytest.raises(UnknownReferenceError):
            Account("x").register(cmd, Region("atlantis"), ADMIN, T0)
        with pytest.raises(AlreadyExistsError):
            registered().register(c.RegisterAccount("acme", "A", "east"), region(), ADMIN, T0)

    def test_an_update_keeps_the_owner_and_an_unchanged_one_records_nothing(self) -> None:
        account = registered(group_id="g1")
        cmd = c.UpdateAccount("acme", "Acme East", group_id="g2")

        [e] = account.update(cmd, ADMIN, T0)

        assert isinstance(e, ev.AccountMasterDataUpdated)
        assert (e.owning_region, e.group_id) == ("east", "g2")
        apply(account, [e])
        assert account.update(cmd, ADMIN, T0) == []

    def test_a_transfer_goes_to_another_defined_region(self) -> None:
        account = registered()
        with pytest.raises(ValidationFailedError, match="owns the account already"):
            account.transfer(c.TransferAccount("acme", "east", "x"), region(), ADMIN, T0)
        with pytest.raises(UnknownReferenceError):
            account.transfer(c.TransferAccount("acme", "mars", "x"), Region("mars"), ADMIN, T0)

        events = account.transfer(
            c.TransferAccount("acme", "south", "moved"), region("south"), ADMIN, T0
        )
        apply(account, events)

        assert (account.owning_region, account.version) == ("south", 2)
