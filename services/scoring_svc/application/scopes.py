"""The scope of a KPI, funnel or forecast read: defaults by role, refused outside one's reach."""

from __future__ import annotations

from datetime import datetime

from services.scoring_svc.domain import permissions
from services.scoring_svc.domain.kpis import Scope
from services.scoring_svc.domain.ledger import Ledger
from shared.identity import Principal


def team_region(ledger: Ledger, team: str, at: datetime) -> str | None:
    for member in ledger.members:
        pos = ledger.position(member, at)
        if pos is not None and pos[1] == team:
            return pos[0]
    return None


def scope_for(
    actor: Principal,
    ledger: Ledger,
    at: datetime,
    region: str | None,
    team: str | None,
    rep: str | None,
) -> Scope:
    """No filter means one's own reach: all (admins), region, team, or oneself (reps)."""
    if region is None and team is None and rep is None and not actor.is_admin:
        if actor.role == "regional_manager":
            region = actor.region
        elif actor.role == "supervisor":
            team = actor.team
        else:
            rep = actor.sub
    if rep is not None:
        pos = ledger.position(rep, at)
        permissions.require_read_rep(actor, rep, pos[1] if pos else None, pos[0] if pos else None)
    if team is not None:
        permissions.require_read_team(actor, team, team_region(ledger, team, at))
    elif region is not None:
        permissions.require_read_region(actor, region)
    elif rep is None:
        permissions.require_read_org(actor, None, None)
    return Scope(region=region, team=team, rep=rep)
