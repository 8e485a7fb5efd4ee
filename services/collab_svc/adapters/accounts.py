"""The account read model and its ownership history, updated in the command's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.collab_svc.adapters.paging import Page, keyset_page, row_dict
from services.collab_svc.domain.account import Account

SAVE = text(
    "INSERT INTO accounts (account_id, name, owning_region, group_id, industry, contact_emails,"
    " contact_phones, version, registered_at, updated_at) VALUES (:account_id, :name,"
    " :owning_region, :group_id, :industry, CAST(:emails AS jsonb), CAST(:phones AS jsonb),"
    " :version, :registered_at, :updated_at) ON CONFLICT (account_id) DO UPDATE SET"
    " name = EXCLUDED.name, owning_region = EXCLUDED.owning_region,"
    " group_id = EXCLUDED.group_id, industry = EXCLUDED.industry,"
    " contact_emails = EXCLUDED.contact_emails, contact_phones = EXCLUDED.contact_phones,"
    " version = EXCLUDED.version, updated_at = EXCLUDED.updated_at"
    " WHERE accounts.version < EXCLUDED.version"
)
ADD_OWNER = text(
    "INSERT INTO account_owners (account_id, version, owning_region, since)"
    " VALUES (:account_id, :version, :region, :since) ON CONFLICT DO NOTHING"
)
# The owner at `at`; for a contact dated before the registration (imported history), the first.
OWNER_AT = text(
    "SELECT owning_region FROM account_owners WHERE account_id = :a"
    " ORDER BY since <= :at DESC, CASE WHEN since <= :at THEN since END DESC NULLS LAST, since"
    " LIMIT 1"
)
COLUMNS = (
    "seq, account_id, name, owning_region, group_id, industry, contact_emails, contact_phones,"
    " version, registered_at, updated_at"
)


class AccountViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def save(self, account: Account) -> None:
        await self._conn.execute(
            SAVE,
            {
                "account_id": account.account_id,
                "name": account.name,
                "owning_region": account.owning_region,
                "group_id": account.group_id,
                "industry": account.industry,
                "emails": json.dumps(account.contact_emails, ensure_ascii=False),
                "phones": json.dumps(account.contact_phones),
                "version": account.version,
                "registered_at": account.registered_at,
                "updated_at": account.updated_at,
            },
        )

    async def add_owner(self, account_id: str, version: int, region: str, since: datetime) -> None:
        await self._conn.execute(
            ADD_OWNER,
            {"account_id": account_id, "version": version, "region": region, "since": since},
        )

    async def get(self, account_id: str) -> dict[str, Any] | None:
        row = (
            await self._conn.execute(
                text(f"SELECT {COLUMNS} FROM accounts WHERE account_id = :id"),  # noqa: S608
                {"id": account_id},
            )
        ).first()
        return row_dict(row) if row else None

    async def page(self, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        return await keyset_page(self._conn, "accounts", COLUMNS, page)

    async def group_of(self, account_id: str) -> str | None:
        result = await self._conn.execute(
            text("SELECT group_id FROM accounts WHERE account_id = :a"), {"a": account_id}
        )
        return result.scalar()

    async def owner_at(self, account_id: str, at: datetime) -> str | None:
        """None while collab does not know the account (its events may come later)."""
        result = await self._conn.execute(OWNER_AT, {"a": account_id, "at": at})
        return result.scalar()

    async def group_exists(self, group_id: str) -> bool:
        result = await self._conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM accounts WHERE group_id = :g)"), {"g": group_id}
        )
        return bool(result.scalar())
