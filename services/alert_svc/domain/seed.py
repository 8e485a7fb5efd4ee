"""The three rules every deployment starts with (DESIGN.md, "Rules"); admins change them later."""

from __future__ import annotations

from shared.contracts.rules import EventMatch, RuleDefinition, When

CLOSED = [EventMatch(event="OpportunityWon"), EventMatch(event="OpportunityLost")]

SEED_RULES: dict[str, RuleDefinition] = {
    "follow-up-gap": RuleDefinition(
        name="follow-up gap",
        description="7 days with no customer-facing activity on an open deal.",
        message="supervisor intervention",
        start_on=[
            EventMatch(event="OpportunityOpened"),
            EventMatch(event="ActivityLogged", where={"customer_facing": True}),
        ],
        cancel_on=CLOSED,
        after="P7D",
        route_to=["owner_supervisor"],
        severity="high",
        action="alert",
    ),
    "stage-stall": RuleDefinition(
        name="stage stall",
        description=(
            "Entering a stage after the previous one lasted over 14 days, then 14 more days "
            "without leaving it: a risk diagnosis report for the regional manager."
        ),
        message="stalled deal: risk diagnosis",
        start_on=[EventMatch(event="StageAdvanced")],
        cancel_on=[EventMatch(event="StageAdvanced"), *CLOSED],
        after="P14D",
        when=When(previous_stage_dwell_days_gt=14),
        route_to=["regional_manager"],
        severity="critical",
        action="risk_report",
    ),
    "golden-72-hours": RuleDefinition(
        name="golden 72 hours",
        description="A new lead (黄金72小时) needs a customer-facing needs interview within 72 hours.",
        message="no needs interview within 72 hours of the lead",
        start_on=[EventMatch(event="OpportunityOpened")],
        cancel_on=[
            EventMatch(
                event="ActivityLogged", where={"kind": ["interview"], "customer_facing": True}
            ),
            *CLOSED,
        ],
        after="PT72H",
        route_to=["owner", "owner_supervisor"],
        severity="high",
        action="alert",
    ),
}
