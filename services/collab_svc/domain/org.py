"""The org directory: regions, teams and members as aggregates (fold + decisions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.collab_svc.domain import commands as c
from services.collab_svc.domain.errors import AlreadyExistsError, UnknownReferenceError
from shared.contracts import collab as ev
from shared.events.base import DomainEvent
from shared.identity import MemberRole, Principal


@dataclass
class Region:
    region_id: str
    name: str = ""
    name_zh: str | None = None
    version: int = 0

    @classmethod
    def fold(cls, region_id: str, events: list[DomainEvent]) -> Region:
        region = cls(region_id)
        for e in events:
            region.apply(e)
        return region

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, e: DomainEvent) -> None:
        self.version += 1
        if isinstance(e, ev.RegionDefined):
            self.name, self.name_zh = e.name, e.name_zh

    def define(self, cmd: c.DefineRegion, actor: Principal, now: datetime) -> list[DomainEvent]:
        if self.exists:
            raise AlreadyExistsError(f"region {self.region_id} is defined already")
        return [
            ev.RegionDefined(
                occurred_at=now,
                region_id=cmd.region_id,
                name=cmd.name,
                name_zh=cmd.name_zh,
                actor_id=actor.sub,
            )
        ]


@dataclass
class Team:
    team_id: str
    region_id: str = ""
    name: str = ""
    version: int = 0

    @classmethod
    def fold(cls, team_id: str, events: list[DomainEvent]) -> Team:
        team = cls(team_id)
        for e in events:
            team.apply(e)
        return team

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, e: DomainEvent) -> None:
        self.version += 1
        if isinstance(e, ev.TeamFormed):
            self.region_id, self.name = e.region_id, e.name

    def form(
        self, cmd: c.FormTeam, region: Region, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        if self.exists:
            raise AlreadyExistsError(f"team {self.team_id} is formed already")
        if not region.exists:
            raise UnknownReferenceError(f"region {cmd.region_id} is not defined", field="region_id")
        return [
            ev.TeamFormed(
                occurred_at=now,
                team_id=cmd.team_id,
                region_id=cmd.region_id,
                name=cmd.name,
                actor_id=actor.sub,
            )
        ]


@dataclass
class Member:
    member_id: str
    name: str = ""
    email: str | None = None
    role: MemberRole = "rep"
    region_id: str = ""
    team_id: str = ""
    manager_id: str | None = None
    version: int = 0

    @classmethod
    def fold(cls, member_id: str, events: list[DomainEvent]) -> Member:
        member = cls(member_id)
        for e in events:
            member.apply(e)
        return member

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, e: DomainEvent) -> None:
        self.version += 1
        if isinstance(e, ev.MemberAssigned):
            self.name, self.email, self.role = e.name, e.email, e.role
            self.region_id, self.team_id, self.manager_id = e.region_id, e.team_id, e.manager_id

    def assign(
        self,
        cmd: c.AssignMember,
        team: Team,
        manager: Member | None,
        actor: Principal,
        now: datetime,
    ) -> list[DomainEvent]:
        """MemberAssigned (again on a change); nothing when the assignment is unchanged."""
        check_placement(cmd, team, manager)
        unchanged = (
            self.exists
            and (self.name, self.email, self.role) == (cmd.name, cmd.email, cmd.role)
            and (self.region_id, self.team_id) == (cmd.region_id, cmd.team_id)
            and self.manager_id == cmd.manager_id
        )
        if unchanged:
            return []
        return [
            ev.MemberAssigned(
                occurred_at=now,
                member_id=cmd.member_id,
                name=cmd.name,
                email=cmd.email,
                role=cmd.role,
                region_id=cmd.region_id,
                team_id=cmd.team_id,
                manager_id=cmd.manager_id,
                actor_id=actor.sub,
            )
        ]


def check_placement(cmd: c.AssignMember, team: Team, manager: Member | None) -> None:
    """A member's team lies in the member's region; the manager is another known member."""
    if not team.exists:
        raise UnknownReferenceError(f"team {cmd.team_id} is not formed", field="team_id")
    if team.region_id != cmd.region_id:
        raise UnknownReferenceError(
            f"team {cmd.team_id} belongs to region {team.region_id}, not {cmd.region_id}",
            field="team_id",
        )
    if cmd.manager_id is None:
        return
    if cmd.manager_id == cmd.member_id:
        raise UnknownReferenceError("a member cannot manage themselves", field="manager_id")
    if manager is None or not manager.exists:
        raise UnknownReferenceError(f"no member {cmd.manager_id}", field="manager_id")
