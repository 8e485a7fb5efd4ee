"""Alert read models: rules, org directory and opportunities learned from events, deadlines,
alerts risk reports and reps' latest health scores.

Revision ID: 0020
Revises: 0025
"""

from alembic import op

revision = "0020"
down_revision = "0025"

TABLES = [
    """
    CREATE TABLE alert_rules (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        rule_id text PRIMARY KEY,
        name text NOT NULL,
        definition jsonb NOT NULL,
        enabled boolean NOT NULL,
        version integer NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE alert_members (
        member_id text PRIMARY KEY,
        role text NOT NULL,
        region text NOT NULL,
        team text NOT NULL,
        manager_id text,
        occurred_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX alert_members_manager ON alert_members (manager_id)",
    """
    CREATE TABLE alert_opportunities (
        opportunity_id text PRIMARY KEY,
        account_id text NOT NULL,
        owner_id text NOT NULL,
        team text NOT NULL,
        region text NOT NULL,
        stage text NOT NULL,
        status text NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX alert_opportunities_open ON alert_opportunities (opportunity_id) WHERE status = 'open'",
    """
    CREATE TABLE alert_opportunity_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        opportunity_id text NOT NULL,
        event_id uuid NOT NULL UNIQUE,
        event_name text NOT NULL,
        event_version integer NOT NULL,
        occurred_at timestamptz NOT NULL,
        payload jsonb NOT NULL
    )
    """,
    "CREATE INDEX alert_opportunity_events_subject ON alert_opportunity_events (opportunity_id, seq)",
    """
    CREATE TABLE alert_stage_stays (
        opportunity_id text NOT NULL,
        stage text NOT NULL,
        team text NOT NULL,
        region text NOT NULL,
        entered_at timestamptz NOT NULL,
        left_at timestamptz,
        PRIMARY KEY (opportunity_id, entered_at)
    )
    """,
    "CREATE INDEX alert_stage_stays_ended ON alert_stage_stays (stage) WHERE left_at IS NOT NULL",
    """
    CREATE TABLE alert_playbooks (
        version integer PRIMARY KEY,
        definition jsonb NOT NULL
    )
    """,
    """
    CREATE TABLE alert_deadlines (
        rule_id text NOT NULL,
        opportunity_id text NOT NULL,
        rule_version integer NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'fired', 'cancelled')),
        started_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        fired_at timestamptz,
        alert_id text,
        PRIMARY KEY (rule_id, opportunity_id)
    )
    """,
    "CREATE INDEX alert_deadlines_due ON alert_deadlines (due_at) WHERE state = 'pending'",
    """
    CREATE TABLE alert_alerts (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        alert_id text PRIMARY KEY,
        rule_id text NOT NULL,
        rule_name text NOT NULL,
        message text NOT NULL,
        opportunity_id text NOT NULL,
        account_id text NOT NULL,
        region text NOT NULL,
        team text NOT NULL,
        owner_id text NOT NULL,
        recipients text[] NOT NULL,
        severity text NOT NULL,
        severity_rank integer NOT NULL,
        action text NOT NULL,
        status text NOT NULL,
        started_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        raised_at timestamptz NOT NULL,
        acknowledged_at timestamptz,
        acknowledged_by text,
        resolved_at timestamptz,
        resolution_reason text,
        resolution_comment text,
        resolved_by text,
        report_id text,
        version integer NOT NULL
    )
    """,
    "CREATE INDEX alert_alerts_subject ON alert_alerts (rule_id, opportunity_id) WHERE status <> 'resolved'",
    "CREATE INDEX alert_alerts_region ON alert_alerts (region, seq)",
    "CREATE INDEX alert_alerts_recipients ON alert_alerts USING gin (recipients)",
    """
    CREATE TABLE alert_reports (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        report_id text PRIMARY KEY,
        rule_id text NOT NULL,
        alert_id text,
        opportunity_id text NOT NULL,
        account_id text NOT NULL,
        region text NOT NULL,
        team text NOT NULL,
        recipients text[] NOT NULL,
        generated_at timestamptz NOT NULL,
        content jsonb NOT NULL
    )
    """,
    "CREATE INDEX alert_reports_region ON alert_reports (region, seq)",
    """
    CREATE TABLE alert_health (
        member_id text PRIMARY KEY,
        week text NOT NULL,
        week_ends_at timestamptz NOT NULL,
        revision integer NOT NULL,
        score double precision,
        components jsonb NOT NULL
    )
    """,
]
DROPS = [
    "alert_health",
    "alert_reports",
    "alert_alerts",
    "alert_deadlines",
    "alert_playbooks",
    "alert_stage_stays",
    "alert_opportunity_events",
    "alert_opportunities",
    "alert_members",
    "alert_rules",
]


def upgrade() -> None:
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in DROPS:
        op.execute(f"DROP TABLE IF EXISTS {table}")
