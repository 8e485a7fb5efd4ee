"""Who may do what to an opportunity: role × region × ownership, decided on the server."""

from __future__ import annotations

from dataclasses import dataclass

from services.pipeline_svc.domain.errors import (
    MemberNotYetKnownError,
    NotPermittedError,
    RegionIsolationError,
)
from shared.errors import ValidationFailedError
from shared.identity import Principal

OWNER_ROLES = ("rep", "supervisor", "regional_manager")


@dataclass(frozen=True)
class Member:
    """A member of the org directory as collab last said (MemberAssigned)."""

    member_id: str
    region: str
    team: str
    role: str


def may_manage(actor: Principal, region: str, team: str, owner_id: str) -> bool:
    """Reps their own deals; supervisors their team's; regional managers their region's.

    Admins and the importer (loading history) change deals in every region.
    """
    if actor.writes_everywhere:
        return True
    if actor.region != region:
        return False
    if actor.role == "rep":
        return actor.sub == owner_id
    if actor.role == "supervisor":
        return actor.team == team
    return actor.role == "regional_manager"


def may_read(actor: Principal, region: str) -> bool:
    """The importer writes only: it reads nothing beyond its commands' answers."""
    if actor.role == "importer":
        return False
    return actor.role in ("admin", "partner") or actor.region == region


def require_manage(actor: Principal, region: str, team: str, owner_id: str) -> None:
    if not may_manage(actor, region, team, owner_id):
        raise NotPermittedError(
            f"a {actor.role} of region {actor.region} may not change this opportunity "
            f"(region {region}, team {team}, owner {owner_id})",
            region=region,
        )


def require_open(actor: Principal, region: str, team: str, owner_id: str) -> None:
    if actor.role == "rep" and owner_id != actor.sub:
        raise NotPermittedError("a rep opens opportunities for themselves only")
    if actor.role == "rep" and team != actor.team:
        raise NotPermittedError("a rep opens opportunities in their own team only")
    require_manage(actor, region, team, owner_id)


def require_reassign(actor: Principal, region: str, team: str, owner_id: str) -> None:
    if actor.role == "rep":
        raise NotPermittedError("reassigning needs a supervisor, regional manager or admin")
    require_manage(actor, region, team, owner_id)


def require_admin(actor: Principal) -> None:
    if actor.role != "admin":
        raise NotPermittedError("only admins may do this")


def may_log_contact(actor: Principal, region: str, team: str, owner_id: str, granted: bool) -> bool:
    """Managing members may; another region's member only with a grant valid now (协作申请)."""
    if may_manage(actor, region, team, owner_id):
        return True
    return (
        granted
        and actor.region != region
        and actor.role in ("rep", "supervisor", "regional_manager")
    )


def require_region(actor: Principal, account_id: str, owning_region: str) -> None:
    """Only the owning region acts on an account's deals (admins and the importer everywhere)."""
    if actor.region != owning_region and not actor.writes_everywhere:
        raise RegionIsolationError(
            f"account {account_id} is owned by region {owning_region}; a member of "
            f"{actor.region} needs an approved collaboration request to contact it, and may "
            "never advance or change its deals",
            account_id=account_id,
            owning_region=owning_region,
        )


def reassign_target(
    member: Member | None, to_owner: str, team: str | None, region: str, field: str = "to_owner"
) -> str:
    """The team the deal goes to: the new owner's own, who must be a member of the deal's region.

    Also checks the owner a deal is opened for (`field="owner_id"`) when it is not the caller.
    """
    if member is None:
        raise MemberNotYetKnownError(
            f"member {to_owner} is not known to the pipeline yet (their assignment may still be "
            "on its way from the collaboration service); retry in a few seconds",
            member_id=to_owner,
        )
    if member.region != region or member.role not in OWNER_ROLES:
        raise ValidationFailedError(
            f"{to_owner} is a {member.role} of region {member.region}; a deal of region {region} "
            "goes to a rep, supervisor or regional manager of that region",
            field=field,
        )
    if team is not None and team != member.team:
        raise ValidationFailedError(
            f"{to_owner} belongs to team {member.team}, not {team}", field="team"
        )
    return member.team
