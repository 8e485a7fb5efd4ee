"""Who may manage webhooks: admins any; a regional manager only those filtered on their region.

A subscription without a region filter receives every region's events, so only an admin may
hold one. Everyone else (reps, supervisors, partners) is refused.
"""

from __future__ import annotations

from services.alert_svc.webhooks.domain.errors import NotPermittedError
from shared.identity import Principal


def may_manage(actor: Principal, region: str | None) -> bool:
    if actor.role == "admin":
        return True
    return actor.role == "regional_manager" and region is not None and region == actor.region


def require_manage(actor: Principal, region: str | None) -> None:
    if may_manage(actor, region):
        return
    if actor.role == "regional_manager":
        raise NotPermittedError(
            f"a regional manager manages only webhooks filtered on region {actor.region!r}"
        )
    raise NotPermittedError("only admins and regional managers manage webhooks")


def visible_region(actor: Principal, asked: str | None) -> str | None:
    """The region filter a listing runs with: a regional manager always sees their own."""
    if actor.role == "admin":
        return asked
    require_manage(actor, asked or actor.region)
    return actor.region
