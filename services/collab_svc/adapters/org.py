"""The org directory's read model: regions, teams and members, updated in the command's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.collab_svc.adapters.paging import Page, keyset_page, row_dict
from services.collab_svc.domain.org import Member, Region, Team

SAVE_REGION = text(
    "INSERT INTO org_regions (region_id, name, name_zh, version, updated_at)"
    " VALUES (:region_id, :name, :name_zh, :version, :at) ON CONFLICT (region_id) DO UPDATE SET"
    " name = EXCLUDED.name, name_zh = EXCLUDED.name_zh, version = EXCLUDED.version,"
    " updated_at = EXCLUDED.updated_at WHERE org_regions.version < EXCLUDED.version"
)
SAVE_TEAM = text(
    "INSERT INTO org_teams (team_id, region_id, name, version, updated_at)"
    " VALUES (:team_id, :region_id, :name, :version, :at) ON CONFLICT (team_id) DO UPDATE SET"
    " region_id = EXCLUDED.region_id, name = EXCLUDED.name, version = EXCLUDED.version,"
    " updated_at = EXCLUDED.updated_at WHERE org_teams.version < EXCLUDED.version"
)
SAVE_MEMBER = text(
    "INSERT INTO org_members (member_id, name, email, role, region_id, team_id, manager_id,"
    " version, updated_at) VALUES (:member_id, :name, :email, :role, :region_id, :team_id,"
    " :manager_id, :version, :at) ON CONFLICT (member_id) DO UPDATE SET name = EXCLUDED.name,"
    " email = EXCLUDED.email, role = EXCLUDED.role, region_id = EXCLUDED.region_id,"
    " team_id = EXCLUDED.team_id, manager_id = EXCLUDED.manager_id,"
    " version = EXCLUDED.version, updated_at = EXCLUDED.updated_at"
    " WHERE org_members.version < EXCLUDED.version"
)
REGION_COLUMNS = "seq, region_id, name, name_zh, version, updated_at"
TEAM_COLUMNS = "seq, team_id, region_id, name, version, updated_at"
MEMBER_COLUMNS = (
    "seq, member_id, name, email, role, region_id, team_id, manager_id, version, updated_at"
)


class OrgViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def save_region(self, region: Region, at: datetime) -> None:
        await self._conn.execute(
            SAVE_REGION,
            {
                "region_id": region.region_id,
                "name": region.name,
                "name_zh": region.name_zh,
                "version": region.version,
                "at": at,
            },
        )

    async def save_team(self, team: Team, at: datetime) -> None:
        await self._conn.execute(
            SAVE_TEAM,
            {
                "team_id": team.team_id,
                "region_id": team.region_id,
                "name": team.name,
                "version": team.version,
                "at": at,
            },
        )

    async def save_member(self, member: Member, at: datetime) -> None:
        await self._conn.execute(
            SAVE_MEMBER,
            {
                "member_id": member.member_id,
                "name": member.name,
                "email": member.email,
                "role": member.role,
                "region_id": member.region_id,
                "team_id": member.team_id,
                "manager_id": member.manager_id,
                "version": member.version,
                "at": at,
            },
        )

    async def regions(self, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        return await keyset_page(self._conn, "org_regions", REGION_COLUMNS, page)

    async def teams(self, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        return await keyset_page(self._conn, "org_teams", TEAM_COLUMNS, page)

    async def members(self, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        return await keyset_page(self._conn, "org_members", MEMBER_COLUMNS, page)

    async def region(self, region_id: str) -> dict[str, Any] | None:
        return await self._one("org_regions", REGION_COLUMNS, "region_id", region_id)

    async def team(self, team_id: str) -> dict[str, Any] | None:
        return await self._one("org_teams", TEAM_COLUMNS, "team_id", team_id)

    async def member(self, member_id: str) -> dict[str, Any] | None:
        return await self._one("org_members", MEMBER_COLUMNS, "member_id", member_id)

    async def _one(self, table: str, columns: str, key: str, value: str) -> dict[str, Any] | None:
        sql = f"SELECT {columns} FROM {table} WHERE {key} = :v"  # noqa: S608 - our names only
        row = (await self._conn.execute(text(sql), {"v": value})).first()
        return row_dict(row) if row else None
