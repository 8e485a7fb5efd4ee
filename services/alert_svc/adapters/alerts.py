"""Alerts and reports read models, written in the transaction of the events that change them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.domain.alert import Alert
from shared.contracts import alert as av
from shared.contracts.rules import SEVERITY_RANK
from shared.store.cursors import decode_seq, encode_seq

INSERT_ALERT = text(
    "INSERT INTO alert_alerts (alert_id, rule_id, rule_name, message, opportunity_id, account_id,"
    " region, team, owner_id, recipients, severity, severity_rank, action, status, started_at,"
    " due_at, raised_at, report_id, version) VALUES (:alert_id, :rule_id, :rule_name, :message,"
    " :opportunity_id, :account_id, :region, :team, :owner_id, :recipients, :severity, :rank,"
    " :action, 'raised', :started_at, :due_at, :raised_at, :report_id, 1)"
    " ON CONFLICT (alert_id) DO NOTHING"
)
ALERT_COLUMNS = (
    "seq, alert_id, rule_id, rule_name, message, opportunity_id, account_id, region, team,"
    " owner_id, recipients, severity, action, status, started_at, due_at, raised_at,"
    " acknowledged_at, acknowledged_by, resolved_at, resolution_reason, resolution_comment,"
    " resolved_by, report_id, version"
)
REPORT_COLUMNS = (
    "seq, report_id, rule_id, alert_id, opportunity_id, account_id, region, team, recipients,"
    " generated_at, content"
)


def _plain(row: Any) -> dict[str, Any]:
    out = {k: v for k, v in row._mapping.items() if k != "seq"}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


class AlertViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def raised(self, events: Sequence[av.AlertRaised]) -> None:
        if not events:
            return
        include = {
            "alert_id", "rule_id", "rule_name", "message", "opportunity_id", "account_id",
            "region", "team", "owner_id", "recipients", "severity", "action", "started_at",
            "due_at", "raised_at", "report_id",
        }  # fmt: skip
        await self._conn.execute(
            INSERT_ALERT,
            [{**e.model_dump(include=include), "rank": SEVERITY_RANK[e.severity]} for e in events],
        )

    async def changed(self, alert: Alert) -> None:
        """Apply the aggregate's latest acknowledgement or resolution."""
        last = alert.history[-1]
        params: dict[str, Any] = {"a": alert.alert_id, "v": alert.version, "s": alert.status}
        if isinstance(last, av.AlertAcknowledged):
            sql = "acknowledged_at = :at, acknowledged_by = :by"
            params |= {"at": last.occurred_at, "by": last.by}
        elif isinstance(last, av.AlertResolved):
            sql = (
                "resolved_at = :at, resolved_by = :by, resolution_reason = :reason,"
                " resolution_comment = :comment"
            )
            params |= {"at": last.occurred_at, "by": last.by, "reason": last.reason}
            params["comment"] = last.comment
        else:
            return
        await self._conn.execute(
            text(f"UPDATE alert_alerts SET status = :s, version = :v, {sql} WHERE alert_id = :a"),  # noqa: S608
            params,
        )

    async def get(self, alert_id: str) -> dict[str, Any] | None:
        sql = text(f"SELECT {ALERT_COLUMNS} FROM alert_alerts WHERE alert_id = :a")  # noqa: S608
        row = (await self._conn.execute(sql, {"a": alert_id})).first()
        return _plain(row) if row else None

    async def open_ids(self, rule_id: str, opportunity_id: str) -> list[str]:
        sql = text(
            "SELECT alert_id FROM alert_alerts WHERE rule_id = :r AND opportunity_id = :o"
            " AND status <> 'resolved' ORDER BY seq"
        )
        return [
            r.alert_id for r in await self._conn.execute(sql, {"r": rule_id, "o": opportunity_id})
        ]

    async def page(
        self,
        filters: dict[str, str | None],
        scope: str,
        params: dict[str, Any],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """`scope` is a fixed SQL condition (visibility) over `params`; filters are equalities."""
        where = ["seq > :after", scope]
        values: dict[str, Any] = {**params, "after": decode_seq(cursor) if cursor else 0}
        for name, value in filters.items():
            if value is None:
                continue
            if name == "recipient":
                where.append(":recipient = ANY(recipients)")
            else:
                where.append(f"{name} = :{name}")
            values[name] = value
        values["limit"] = limit + 1
        sql = (
            f"SELECT {ALERT_COLUMNS} FROM alert_alerts WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY seq LIMIT :limit"
        )
        rows = list(await self._conn.execute(text(sql), values))
        nxt = encode_seq(rows[limit - 1].seq) if len(rows) > limit else None
        return [_plain(r) for r in rows[:limit]], nxt

    async def open_in(self, scope: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {ALERT_COLUMNS} FROM alert_alerts WHERE status <> 'resolved' AND {scope}"  # noqa: S608
            " ORDER BY severity_rank DESC, due_at, seq LIMIT :limit"
        )
        return [_plain(r) for r in await self._conn.execute(text(sql), {**params, "limit": limit})]


class ReportViews:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def save(self, e: av.RiskReportGenerated) -> None:
        await self._conn.execute(
            text(
                "INSERT INTO alert_reports (report_id, rule_id, alert_id, opportunity_id,"
                " account_id, region, team, recipients, generated_at, content) VALUES (:report_id,"
                " :rule_id, :alert_id, :opportunity_id, :account_id, :region, :team, :recipients,"
                " :generated_at, CAST(:content AS jsonb)) ON CONFLICT (report_id) DO NOTHING"
            ),
            {
                **e.model_dump(exclude={"report", "occurred_at"}),
                "content": e.report.model_dump_json(),
            },
        )

    async def get(self, report_id: str) -> dict[str, Any] | None:
        sql = text(f"SELECT {REPORT_COLUMNS} FROM alert_reports WHERE report_id = :r")  # noqa: S608
        row = (await self._conn.execute(sql, {"r": report_id})).first()
        return _plain(row) if row else None

    async def page(
        self,
        scope: str,
        params: dict[str, Any],
        filters: dict[str, str | None],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        where = ["seq > :after", scope]
        values: dict[str, Any] = {**params, "after": decode_seq(cursor) if cursor else 0}
        for name, value in filters.items():
            if value is not None:
                where.append(f"{name} = :{name}")
                values[name] = value
        values["limit"] = limit + 1
        sql = (
            f"SELECT {REPORT_COLUMNS} FROM alert_reports WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY seq LIMIT :limit"
        )
        rows = list(await self._conn.execute(text(sql), values))
        nxt = encode_seq(rows[limit - 1].seq) if len(rows) > limit else None
        return [_plain(r) for r in rows[:limit]], nxt


def visibility(
    actor_sub: str, role: str, region: str, team: str, below: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """The SQL condition matching `domain.permissions.may_see` for lists."""
    if role == "admin":
        return "TRUE", {}
    if role == "regional_manager":
        return "region = :v_region", {"v_region": region}
    people = [actor_sub, *below]
    cond = "region = :v_region AND (recipients && CAST(:v_people AS text[])"
    params: dict[str, Any] = {"v_region": region, "v_people": people}
    if role == "supervisor":
        cond += " OR team = :v_team"
        params["v_team"] = team
    return cond + ")", params
