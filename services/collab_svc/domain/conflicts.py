"""Cross-region conflicts (跨区冲突): a customer-facing contact by a non-owning region without a grant."""

from __future__ import annotations

from services.collab_svc.domain.permissions import may_contact
from shared.contracts.collab import CrossRegionConflictDetected
from shared.contracts.pipeline import ActivityLogged

STREAM_TYPE = "conflict"


def stream_id(conflict_id: str) -> str:
    """One stream per conflict, written at version 0 only: an activity raises at most one per
    account it reached."""
    return f"conflict-{conflict_id}"


def conflict_id(activity: ActivityLogged, account_id: str) -> str:
    """The activity's id for its deal's account; suffixed for another account its contact reached
    (a synced log matched through several accounts' contact data, see `matched_accounts`)."""
    if account_id == activity.account_id:
        return activity.activity_id
    return f"{activity.activity_id}:{account_id}"


def detect(
    activity: ActivityLogged,
    owning_region: str,
    group_id: str | None,
    holds_grant: bool,
    account_id: str | None = None,
) -> CrossRegionConflictDetected | None:
    """Judge the contact against `account_id` (default: the deal's account)."""
    account_id = account_id or activity.account_id
    if not activity.customer_facing:
        return None
    if may_contact(activity.actor_region, owning_region, holds_grant):
        return None
    return CrossRegionConflictDetected(
        # business time of the conflict is the contact's: it sits beside it on the timeline
        occurred_at=activity.occurred_at,
        conflict_id=conflict_id(activity, account_id),
        account_id=account_id,
        group_id=group_id,
        owning_region=owning_region,
        contact_region=activity.actor_region,
        actor_id=activity.actor_id,
        opportunity_id=activity.opportunity_id,
        activity_id=activity.activity_id,
        activity_kind=activity.kind,
        source=activity.source,
        contact_at=activity.occurred_at,
    )
