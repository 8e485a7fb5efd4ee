"""Which deal a synced email/phone log lands on, and which accounts its contact reaches.

The account master data of record says whose contact a number or address is. A stakeholder
mapped on a deal outranks it only when that deal sits in a region owning the contact of record
(or when no account lists the contact): a rep cannot steer another region's customer onto their
own deal by mapping the customer as a stakeholder. Every account the contact reaches is named,
so the contact is judged for cross-region conflicts against each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AccountOfRecord:
    """An account whose master data lists the contact, and the region that owns it now."""

    account_id: str
    region: str


@dataclass(frozen=True)
class DealCandidate:
    """An open deal reachable through the contact: through its account or as a stakeholder."""

    opportunity_id: str
    account_id: str
    region: str
    opened_at: datetime
    via_stakeholder: bool


@dataclass(frozen=True)
class Match:
    opportunity_id: str
    account_id: str
    other_accounts: list[str]


STAKEHOLDER, ACCOUNT = 0, 1


def _tier(deal: DealCandidate, record_regions: set[str]) -> int | None:
    if not deal.via_stakeholder:
        return ACCOUNT
    if not record_regions or deal.region in record_regions:
        return STAKEHOLDER
    return None  # another region's customer mapped on this deal: never a landing place


def choose(accounts: list[AccountOfRecord], deals: list[DealCandidate]) -> Match | None:
    """The best deal (stakeholder of the right region, then account; newest first), or None."""
    record_regions = {a.region for a in accounts}
    ranked = sorted(
        (
            (tier, -deal.opened_at.timestamp(), deal.opportunity_id, deal)
            for deal in deals
            if (tier := _tier(deal, record_regions)) is not None
        ),
        key=lambda t: t[:3],
    )
    if not ranked:
        return None
    best = ranked[0][3]
    reached = {a.account_id for a in accounts} | {t[3].account_id for t in ranked}
    return Match(best.opportunity_id, best.account_id, sorted(reached - {best.account_id}))
