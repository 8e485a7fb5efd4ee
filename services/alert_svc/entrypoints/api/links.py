"""Links from alert_svc's resources to each other and to the subject in the pipeline API."""

from __future__ import annotations

from typing import Any


def alert_view(row: dict[str, Any]) -> dict[str, Any]:
    links = {
        "self": f"/alerts/{row['alert_id']}",
        "subject": f"/opportunities/{row['opportunity_id']}",
    }
    if row.get("report_id"):
        links["report"] = f"/reports/{row['report_id']}"
    return {**row, "links": links}


def report_view(row: dict[str, Any]) -> dict[str, Any]:
    links = {
        "self": f"/reports/{row['report_id']}",
        "subject": f"/opportunities/{row['opportunity_id']}",
    }
    if row.get("alert_id"):
        links["alert"] = f"/alerts/{row['alert_id']}"
    return {**row, "links": links}
