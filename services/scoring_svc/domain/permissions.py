"""Who may read whose scores: a rep their own, a supervisor their team, a regional manager their region."""

from __future__ import annotations

from shared.errors import ForbiddenError
from shared.identity import Principal


def require_read_rep(actor: Principal, rep_id: str, team: str | None, region: str | None) -> None:
    if (
        actor.is_admin
        or actor.sub == rep_id
        or (actor.role == "supervisor" and team is not None and team == actor.team)
        or (actor.role == "regional_manager" and region is not None and region == actor.region)
    ):
        return
    raise ForbiddenError("you may read your own, your team's or your region's scores only")


def require_read_team(actor: Principal, team: str, region: str | None) -> None:
    if (
        actor.is_admin
        or (actor.role == "supervisor" and team == actor.team)
        or (actor.role == "regional_manager" and region is not None and region == actor.region)
    ):
        return
    raise ForbiddenError("team scores are for the team's supervisor and region's manager")


def require_read_region(actor: Principal, region: str) -> None:
    if actor.is_admin or (actor.role == "regional_manager" and region == actor.region):
        return
    raise ForbiddenError("region scores are for the region's manager and admins")


def require_read_org(actor: Principal, region: str | None, team: str | None) -> None:
    """KPIs, funnel and forecast: a team for its supervisor, a region for its manager."""
    if actor.is_admin:
        return
    if actor.role == "regional_manager" and region == actor.region:
        return
    if actor.role == "supervisor" and team == actor.team:
        return
    raise ForbiddenError(
        "say region= (regional managers: yours) or team= (supervisors: yours); admins see all"
    )


def require_admin(actor: Principal, what: str) -> None:
    if not actor.is_admin:
        raise ForbiddenError(f"only admins may {what}")
