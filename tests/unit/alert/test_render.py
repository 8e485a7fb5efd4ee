"""Risk reports rendered for people: Markdown and HTML carry the content, HTML escapes it."""

from __future__ import annotations

from typing import Any

from services.alert_svc.domain import report
from services.alert_svc.entrypoints.api import render
from tests.unit.alert.builders import Deal, day


def row(objection: str = "price") -> dict[str, Any]:
    deal = Deal()
    events = [
        deal.opened(day(0)),
        deal.advanced(day(16), "initial_contact"),
        deal.activity(day(18), objections_raised=[objection]),
    ]
    content = report.build(events, day(31), medians={"lead": (5.0, 6.5)})
    return {
        "report_id": "rep-1",
        "opportunity_id": "opp-1",
        "region": "east",
        "team": "east-1",
        "generated_at": day(31).isoformat(),
        "content": content.model_dump(mode="json"),
    }


def test_markdown_lists_the_stage_history_with_medians_and_the_recommendations() -> None:
    text = render.markdown(row())
    assert "| lead | 2026-03-02T09:00:00Z | 16.0 | 5.0 | 6.5 |" in text
    assert "| initial_contact | 2026-03-18T09:00:00Z | 15.0 | — | — |" in text
    assert "- price (open, raised 2026-03-20T09:00:00Z)" in text
    assert "closes: open objection: price" in text


def test_html_escapes_what_people_typed() -> None:
    page = render.as_html(row(objection="<script>alert(1)</script>"))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<h2>Stage history</h2>" in page and page.startswith("<!doctype html>")
