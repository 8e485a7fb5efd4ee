"""Who may do what in alert_svc: admins own rules; alerts are seen by their people and managers."""

from __future__ import annotations

from collections.abc import Collection

from services.alert_svc.domain.errors import NotAllowedError
from shared.identity import Principal


def require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise NotAllowedError("only admins define and change rules")


def require_reader(actor: Principal) -> None:
    if actor.role == "partner":
        raise NotAllowedError("partners receive alerts by webhook, not through this API")


def may_see(
    actor: Principal, region: str, team: str, recipients: Collection[str], below: Collection[str]
) -> bool:
    """Admins see all; others only their region: its regional managers all of it, supervisors
    their team, and everyone what is addressed to them or to someone they manage (`below`)."""
    if actor.is_admin:
        return True
    if actor.role == "partner" or region != actor.region:
        return False
    if actor.role == "regional_manager":
        return True
    if actor.role == "supervisor" and team == actor.team:
        return True
    return actor.sub in recipients or any(r in below for r in recipients)
