"""Contact across regions: requests the owning region approves or rejects, contacts under a
grant, and contacts without one (each raises a cross-region conflict), all as synced mail and
phone logs through the ingest API."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.demo.plan import REF, Account, Command, DealRecord, Member

#: the integration partner that syncs mail and phone logs
MAIL_SYNC = "demo-mail-sync"
HOUR = timedelta(hours=1)
WINDOW = timedelta(days=30)


def spread(rate: float, months: int) -> list[int]:
    """`rate` a month as whole counts per month that add up to round(rate × months): the
    organisation-wide figure lands on its rate instead of wandering with chance."""
    return [math.floor(rate * (m + 1) + 0.5) - math.floor(rate * m + 0.5) for m in range(months)]


@dataclass
class CrossRegion:
    rng: random.Random
    members: dict[str, Member]
    accounts: dict[str, Account]
    deals: list[DealRecord]
    now: datetime
    commands: list[Command] = field(default_factory=list)
    conflicts: list[datetime] = field(default_factory=list)
    #: (member, account, valid from, valid until) of the grants handed out
    grants: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    serial: int = 0

    def _reps(self, region: str) -> list[str]:
        return sorted(
            m.member_id for m in self.members.values() if m.role == "rep" and m.region == region
        )

    def _outsider(self, deal: DealRecord) -> str | None:
        """A rep of another region, preferably one where the account's group also sits."""
        account = self.accounts[deal.account_id]
        regions = sorted({m.region for m in self.members.values()} - {deal.region})
        if not regions:
            return None
        siblings = sorted(
            {
                a.region
                for a in self.accounts.values()
                if a.group_id and a.group_id == account.group_id
            }
            - {deal.region}
        )
        return self.rng.choice(self._reps(self.rng.choice(siblings or regions)) or [None])

    def _open_deal(self, at: datetime, until: datetime) -> DealRecord | None:
        """A deal open from before `at` to after `until` with a stakeholder mapped before `at`."""
        candidates = [
            d
            for d in self.deals
            if d.contacts
            and d.contacts[0][0] < at - HOUR
            and (d.closed_at or self.now) > until + HOUR
        ]
        return self.rng.choice(candidates) if candidates else None

    def _granted(self, member: str, account: str, at: datetime) -> bool:
        return any(g[0] == member and g[1] == account and g[2] <= at < g[3] for g in self.grants)

    def contact(self, deal: DealRecord, actor: str, at: datetime) -> None:
        """A synced log of `actor` reaching one of the deal's stakeholders at `at`."""
        self.serial += 1
        email = next(e for t, e in reversed(deal.contacts) if t < at - HOUR)
        log = {
            "external_id": f"sync-{deal.key}-{self.serial}",
            "channel": "email",
            "contact": email,
            "occurred_at": at.isoformat(),
            "actor_id": actor,
            "actor_region": self.members[actor].region,
            "summary": "introduced our group-wide offer",
        }
        self.commands.append(
            Command(
                at,
                "deals",
                f"deal-{deal.key}",
                "pipeline",
                "/ingest/activities",
                {"logs": [log]},
                MAIL_SYNC,
                "ActivityLogged",
            )
        )
        if not self._granted(actor, deal.account_id, at):
            self.conflicts.append(at)

    def conflict(self, at: datetime) -> None:
        deal = self._open_deal(at, at)
        actor = self._outsider(deal) if deal else None
        if deal and actor and not self._granted(actor, deal.account_id, at):
            self.contact(deal, actor, at)

    def request(self, at: datetime, approve: bool) -> None:
        """A rep asks to contact another region's account; the owner decides within two days."""
        deal = self._open_deal(at, at + timedelta(days=12))
        requester = self._outsider(deal) if deal else None
        if deal is None or requester is None:
            return
        self.serial += 1
        key, stream = f"req-{self.serial}", f"contact-request-{self.serial}"
        approver = next(
            m for m in self.members.values() if m.role == "supervisor" and m.team == deal.team
        )
        body = {
            "purpose": "joint session with the group's local plant",
            "window_start": (at + HOUR).isoformat(),
            "window_end": (at + WINDOW).isoformat(),
            "occurred_at": at.isoformat(),
        }
        path = f"/accounts/{deal.account_id}/contact-requests"
        self.commands.append(
            Command(
                at,
                "contact requests",
                stream,
                "collab",
                path,
                body,
                requester,
                "ContactRequested",
                201,
                creates=key,
            )
        )
        decided = at + timedelta(hours=self.rng.uniform(2, 48))
        if approve:
            self.commands.append(
                Command(
                    decided,
                    "contact requests",
                    stream,
                    "collab",
                    f"/contact-requests/{REF}/approve",
                    {"occurred_at": decided.isoformat()},
                    approver.member_id,
                    "ContactApproved",
                    ref=key,
                )
            )
            self.grants.append((requester, deal.account_id, decided, at + WINDOW))
            for _ in range(self.rng.randint(1, 3)):
                when = decided + timedelta(days=self.rng.uniform(0.5, 10))
                if when < min(deal.closed_at or self.now, self.now) - HOUR:
                    self.contact(deal, requester, when)
        else:
            body = {
                "reason": "our team is in final negotiation",
                "occurred_at": decided.isoformat(),
            }
            self.commands.append(
                Command(
                    decided,
                    "contact requests",
                    stream,
                    "collab",
                    f"/contact-requests/{REF}/reject",
                    body,
                    approver.member_id,
                    "ContactRejected",
                    ref=key,
                )
            )

    def month(
        self, start: datetime, end: datetime, requests: int, conflicts: int, approval: float
    ) -> None:
        end = min(end, self.now - HOUR)
        if end <= start:
            return
        for _ in range(requests):
            at = start + (end - start) * self.rng.random()
            self.request(at, self.rng.random() < approval)
        for _ in range(conflicts):
            self.conflict(start + (end - start) * self.rng.random())
