"""Risk reports as Markdown and HTML, for people and mail clients (the JSON is the contract)."""

from __future__ import annotations

import html
from typing import Any


def _median(value: float | None) -> str:
    return "—" if value is None else f"{value}"


def markdown(row: dict[str, Any]) -> str:
    c = row["content"]
    lines = [
        f"# Risk diagnosis: {c['title'] or row['opportunity_id']}",
        "",
        f"Opportunity `{row['opportunity_id']}` · region {row['region']} · team {row['team']} · "
        f"generated {row['generated_at']}",
        "",
        f"Stage **{c['stage']}** for {c['days_in_stage']} days; next stage: {c['next_stage'] or '—'}.",
        "",
        "## Stage history",
        "",
        "| stage | entered | days | team median | region median |",
        "|---|---|---|---|---|",
    ]
    for st in c["stage_history"]:
        lines.append(
            f"| {st['stage']} | {st['entered_at']} | {st['days']} | "
            f"{_median(st['team_median_days'])} | {_median(st['region_median_days'])} |"
        )
    lines += ["", f"## Missing for the next stage ({c['missing_source']})", ""]
    lines += [f"- {m['code']}: {m['detail']}" for m in c["missing_for_next_stage"]] or ["- nothing"]
    lines += ["", "## Objections", ""]
    lines += [
        f"- {o['objection']} ({'resolved' if o['resolved'] else 'open'}, raised {o['raised_at']})"
        for o in c["objections"]
    ] or ["- none raised"]
    lines += ["", "## Recent activities", ""]
    lines += [
        f"- {a['occurred_at']} {a['kind']}{' (customer-facing)' if a['customer_facing'] else ''}: "
        f"{a['summary']}"
        for a in c["recent_activities"]
    ] or ["- none"]
    lines += [
        "",
        "## Stakeholders",
        "",
        f"- covered: {', '.join(c['stakeholder_roles_covered']) or '—'}",
        f"- missing: {', '.join(c['stakeholder_roles_missing']) or '—'}",
    ]
    if c.get("health"):
        lines += ["", "## Owner health", ""]
        lines += [f"- {k}: {v}" for k, v in c["health"].items()]
    lines += ["", "## Recommended next actions", ""]
    lines += [f"1. {r['action']} — closes: {r['closes_gap']}" for r in c["recommendations"]] or [
        "1. none"
    ]
    return "\n".join(lines) + "\n"


def as_html(row: dict[str, Any]) -> str:
    """The Markdown's structure as escaped HTML: headings, tables and lists, nothing executable."""
    out = [
        '<!doctype html><html><head><meta charset="utf-8"><title>Risk diagnosis</title></head><body>'
    ]
    in_list = False
    for line in markdown(row).splitlines():
        text = html.escape(line)
        item = line.startswith(("- ", "1. "))
        if in_list and not item:
            out.append("</ul>")
            in_list = False
        if line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif item:
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{html.escape(line.split(' ', 1)[1])}</li>")
        elif line.startswith("|") and not line.startswith("|---"):
            cells = "".join(
                f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|")
            )
            out.append(f"<table><tr>{cells}</tr></table>")
        elif line and not line.startswith("|---"):
            out.append(f"<p>{text}</p>")
    if in_list:
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)
