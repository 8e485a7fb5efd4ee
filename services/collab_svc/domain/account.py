"""The account aggregate (客户, 集团客户主档案): owned by exactly one region, optionally in a group."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.collab_svc.domain import commands as c
from services.collab_svc.domain.errors import AlreadyExistsError, UnknownReferenceError
from services.collab_svc.domain.org import Region
from shared.contracts import collab as ev
from shared.errors import ValidationFailedError
from shared.events.base import DomainEvent
from shared.identity import Principal

STREAM_TYPE = "account"


@dataclass
class Account:
    account_id: str
    name: str = ""
    owning_region: str = ""
    group_id: str | None = None
    industry: str | None = None
    contact_emails: list[str] = field(default_factory=list)
    contact_phones: list[str] = field(default_factory=list)
    version: int = 0
    registered_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def fold(cls, account_id: str, events: list[DomainEvent]) -> Account:
        account = cls(account_id)
        for e in events:
            account.apply(e)
        return account

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, e: DomainEvent) -> None:
        self.version += 1
        self.updated_at = e.occurred_at
        if isinstance(e, ev.AccountMasterData):
            self.name, self.owning_region, self.group_id = e.name, e.owning_region, e.group_id
            self.industry = e.industry
            self.contact_emails, self.contact_phones = (
                list(e.contact_emails),
                list(e.contact_phones),
            )
            if isinstance(e, ev.AccountRegistered):
                self.registered_at = e.occurred_at
        elif isinstance(e, ev.AccountOwnershipTransferred):
            self.owning_region = e.to_region

    def register(
        self, cmd: c.RegisterAccount, region: Region, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        if self.exists:
            raise AlreadyExistsError(f"account {self.account_id} is registered already")
        if not region.exists:
            raise UnknownReferenceError(
                f"region {cmd.owning_region} is not defined", field="owning_region"
            )
        return [
            ev.AccountRegistered(
                occurred_at=now,
                account_id=cmd.account_id,
                name=cmd.name,
                owning_region=cmd.owning_region,
                group_id=cmd.group_id,
                industry=cmd.industry,
                contact_emails=cmd.contact_emails,
                contact_phones=cmd.contact_phones,
                actor_id=actor.sub,
            )
        ]

    def update(self, cmd: c.UpdateAccount, actor: Principal, now: datetime) -> list[DomainEvent]:
        """Master data replaced as a whole (PUT); nothing is recorded when nothing changes."""
        same = (
            (self.name, self.group_id, self.industry) == (cmd.name, cmd.group_id, cmd.industry)
            and self.contact_emails == cmd.contact_emails
            and self.contact_phones == cmd.contact_phones
        )
        if same:
            return []
        return [
            ev.AccountMasterDataUpdated(
                occurred_at=now,
                account_id=self.account_id,
                name=cmd.name,
                owning_region=self.owning_region,
                group_id=cmd.group_id,
                industry=cmd.industry,
                contact_emails=cmd.contact_emails,
                contact_phones=cmd.contact_phones,
                actor_id=actor.sub,
            )
        ]

    def transfer(
        self, cmd: c.TransferAccount, to: Region, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        if not to.exists:
            raise UnknownReferenceError(f"region {cmd.to_region} is not defined", field="to_region")
        if cmd.to_region == self.owning_region:
            raise ValidationFailedError(
                f"region {cmd.to_region} owns the account already", field="to_region"
            )
        return [
            ev.AccountOwnershipTransferred(
                occurred_at=now,
                account_id=self.account_id,
                from_region=self.owning_region,
                to_region=cmd.to_region,
                reason=cmd.reason,
                actor_id=actor.sub,
            )
        ]
