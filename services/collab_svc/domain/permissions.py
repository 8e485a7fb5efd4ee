"""Who may do what in collab: role × region of the account, decided on the server.

A contact grant lets its holder talk to the account's people (see `may_contact`); it widens
none of the other decisions: only the owning region updates, transfers and decides.
"""

from __future__ import annotations

from services.collab_svc.domain.errors import NotPermittedError, OwnRegionError
from shared.identity import Principal, Role

APPROVERS: tuple[Role, ...] = ("supervisor", "regional_manager")
REQUESTERS: tuple[Role, ...] = ("rep", "supervisor", "regional_manager")


def _in_region(actor: Principal, region: str, roles: tuple[Role, ...]) -> bool:
    return actor.writes_everywhere or (actor.role in roles and actor.region == region)


def may_write_org(actor: Principal) -> bool:
    """Admins, and the importer loading a dated org history."""
    return actor.writes_everywhere


def may_read(actor: Principal) -> bool:
    """The directory, accounts and the cross-region timeline are open to every member.

    The importer writes only and reads nothing (its commands answer what it needs).
    """
    return actor.role in ("rep", "supervisor", "regional_manager", "admin", "partner")


def may_register_account(actor: Principal, region: str) -> bool:
    return _in_region(actor, region, ("regional_manager",))


def may_update_account(actor: Principal, owning_region: str) -> bool:
    return _in_region(actor, owning_region, APPROVERS)


def may_transfer_account(actor: Principal, owning_region: str) -> bool:
    return _in_region(actor, owning_region, ("regional_manager",))


def may_request_contact(actor: Principal, owning_region: str) -> bool:
    if actor.role == "importer":
        return True  # loads requests of history, whichever region filed them
    return actor.role in REQUESTERS and actor.region != owning_region


def may_decide_contact(actor: Principal, owning_region: str) -> bool:
    return _in_region(actor, owning_region, APPROVERS)


def may_read_conflicts(actor: Principal, region: str) -> bool:
    """Approvers see the conflicts their region is part of (as owner or contact); admins all."""
    return actor.role != "importer" and _in_region(actor, region, APPROVERS)


def may_contact(contact_region: str, owning_region: str, holds_grant: bool) -> bool:
    """Contact with an account is the owning region's, or a grant holder's."""
    return contact_region == owning_region or holds_grant


def require_read(actor: Principal) -> None:
    if not may_read(actor):
        raise NotPermittedError(f"role {actor.role} may not read this")


def require_write_org(actor: Principal) -> None:
    if not may_write_org(actor):
        raise NotPermittedError("only admins (and the importer) change the org directory")


def require_register_account(actor: Principal, region: str) -> None:
    if not may_register_account(actor, region):
        raise NotPermittedError(
            f"a {actor.role} of region {actor.region} may not register accounts for region "
            f"{region}: that needs its regional manager or an admin",
            owning_region=region,
        )


def require_update_account(actor: Principal, owning_region: str) -> None:
    if not may_update_account(actor, owning_region):
        raise NotPermittedError(
            f"region {owning_region} owns this account: its supervisors, regional manager or "
            f"an admin update it; a {actor.role} of region {actor.region} may not",
            owning_region=owning_region,
        )


def require_transfer_account(actor: Principal, owning_region: str) -> None:
    if not may_transfer_account(actor, owning_region):
        raise NotPermittedError(
            f"region {owning_region} owns this account: only its regional manager or an admin "
            "may transfer it",
            owning_region=owning_region,
        )


def require_request_contact(actor: Principal, owning_region: str) -> None:
    if actor.role in REQUESTERS and actor.region == owning_region:
        raise OwnRegionError(
            f"your region {owning_region} owns this account; contact it directly",
            owning_region=owning_region,
        )
    if not may_request_contact(actor, owning_region):
        raise NotPermittedError(
            f"a {actor.role} does not file contact requests; reps, supervisors and regional "
            "managers of other regions do",
            owning_region=owning_region,
        )


def require_decide_contact(actor: Principal, owning_region: str) -> None:
    if not may_decide_contact(actor, owning_region):
        raise NotPermittedError(
            f"region {owning_region} owns this account: its supervisors, regional manager or "
            "an admin decide contact requests",
            owning_region=owning_region,
        )


def require_read_conflicts(actor: Principal, region: str) -> None:
    if not may_read_conflicts(actor, region):
        raise NotPermittedError(
            f"conflicts of region {region} are for its supervisors, regional manager and admins",
            region=region,
        )
