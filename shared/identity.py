"""Who is calling: the principal a verified token yields. Standard library only (domain-safe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["rep", "supervisor", "regional_manager", "admin", "partner"]
ROLES: tuple[Role, ...] = ("rep", "supervisor", "regional_manager", "admin", "partner")


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: Role
    region: str
    team: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
