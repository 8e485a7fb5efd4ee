"""Who is calling: the principal a verified token yields. Standard library only (domain-safe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: the roles a member of the org directory holds
MemberRole = Literal["rep", "supervisor", "regional_manager", "admin", "partner"]
#: the roles a token may carry: a member's, or `importer`, an integration that loads history
#: (it writes with business time across regions and reads nothing)
Role = Literal["rep", "supervisor", "regional_manager", "admin", "partner", "importer"]
ROLES: tuple[Role, ...] = ("rep", "supervisor", "regional_manager", "admin", "partner", "importer")
#: who may date any command of either service (`occurred_at`), within the business range
DATING_ROLES: tuple[Role, ...] = ("admin", "importer")


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: Role
    region: str
    team: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def writes_everywhere(self) -> bool:
        """Admins and the importer run the write commands in every region."""
        return self.role in ("admin", "importer")
