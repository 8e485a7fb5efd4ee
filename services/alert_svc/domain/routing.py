"""Routing by role relative to the subject: its owner, the owner's supervisor, the region's managers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.contracts.rules import RouteRole


@dataclass(frozen=True)
class Member:
    member_id: str
    role: str
    region: str
    team: str
    manager_id: str | None = None


class Directory:
    """The part of the org directory a routing needs (learned from collab events)."""

    def __init__(self, members: Sequence[Member]) -> None:
        self.members = list(members)
        self._by_id = {m.member_id: m for m in self.members}
        self._supervisors: dict[str, list[str]] = {}
        self._managers: dict[str, list[str]] = {}
        for m in sorted(self.members, key=lambda m: m.member_id):
            if m.role == "supervisor":
                self._supervisors.setdefault(m.team, []).append(m.member_id)
            elif m.role == "regional_manager":
                self._managers.setdefault(m.region, []).append(m.member_id)

    def get(self, member_id: str) -> Member | None:
        return self._by_id.get(member_id)

    def supervisors_of(self, owner_id: str, team: str) -> list[str]:
        """The owner's manager when that is a supervisor, else the team's supervisors."""
        owner = self.get(owner_id)
        if owner is not None and owner.manager_id:
            manager = self.get(owner.manager_id)
            if manager is None or manager.role == "supervisor":
                return [owner.manager_id]
        return list(self._supervisors.get(team, []))

    def regional_managers(self, region: str) -> list[str]:
        return list(self._managers.get(region, []))


def recipients(
    roles: Sequence[RouteRole], owner_id: str, team: str, region: str, directory: Directory
) -> list[str]:
    """Member ids in the order of the roles, each once; a role nobody holds adds no one."""
    out: list[str] = []
    for role in roles:
        if role == "owner":
            found = [owner_id] if owner_id else []
        elif role == "owner_supervisor":
            found = directory.supervisors_of(owner_id, team)
        else:
            found = directory.regional_managers(region)
        out.extend(m for m in found if m not in out)
    return out
