"""The rules read model: each rule's current definition and whether it is enabled."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.contracts.rules import RuleDefinition

SAVE = text(
    "INSERT INTO alert_rules (rule_id, name, definition, enabled, version, updated_at)"
    " VALUES (:rule_id, :name, CAST(:definition AS jsonb), :enabled, :version, :at)"
    " ON CONFLICT (rule_id) DO UPDATE SET name = EXCLUDED.name, definition = EXCLUDED.definition,"
    " enabled = EXCLUDED.enabled, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at"
)
COLUMNS = "rule_id, name, definition, enabled, version, updated_at"


@dataclass(frozen=True)
class StoredRule:
    rule_id: str
    definition: RuleDefinition
    enabled: bool
    version: int
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "enabled": self.enabled,
            "version": self.version,
            "updated_at": self.updated_at.isoformat(),
            "definition": self.definition.model_dump(mode="json"),
        }


def _rule(row: Any) -> StoredRule:
    return StoredRule(
        row.rule_id,
        RuleDefinition.model_validate(row.definition),
        row.enabled,
        row.version,
        row.updated_at,
    )


class RuleViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def save(self, rule: StoredRule) -> None:
        await self._conn.execute(
            SAVE,
            {
                "rule_id": rule.rule_id,
                "name": rule.definition.name,
                "definition": json.dumps(rule.definition.model_dump(mode="json")),
                "enabled": rule.enabled,
                "version": rule.version,
                "at": rule.updated_at,
            },
        )

    async def get(self, rule_id: str) -> StoredRule | None:
        sql = text(f"SELECT {COLUMNS} FROM alert_rules WHERE rule_id = :r")  # noqa: S608
        row = (await self._conn.execute(sql, {"r": rule_id})).first()
        return _rule(row) if row else None

    async def all(self, enabled_only: bool = False) -> list[StoredRule]:
        where = " WHERE enabled" if enabled_only else ""
        sql = text(f"SELECT {COLUMNS} FROM alert_rules{where} ORDER BY seq")  # noqa: S608
        return [_rule(r) for r in await self._conn.execute(sql)]
