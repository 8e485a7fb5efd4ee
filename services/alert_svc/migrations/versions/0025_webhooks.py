"""Webhook subscriptions, the events they get, deliveries and the attempts of each delivery.

Revision ID: 0025
Revises: 0010
"""

from alembic import op

revision = "0025"
down_revision = "0010"

UP = (
    # configuration, not business facts: rows, not events, so the secret never reaches Kafka
    """
    CREATE TABLE webhook_subscriptions (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        subscription_id uuid PRIMARY KEY,
        url text NOT NULL,
        event_types text[] NOT NULL,
        region text,
        description text,
        secret text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL
    )
    """,
    # the body every delivery of one event sends (a structured CloudEvent), kept once
    """
    CREATE TABLE webhook_events (
        event_id uuid PRIMARY KEY,
        event_type text NOT NULL,
        region text,
        body text NOT NULL,
        received_at timestamptz NOT NULL
    )
    """,
    # one per (subscription, event): the dispatcher's insert is idempotent
    """
    CREATE TABLE webhook_deliveries (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        delivery_id uuid PRIMARY KEY,
        subscription_id uuid NOT NULL
            REFERENCES webhook_subscriptions (subscription_id) ON DELETE CASCADE,
        event_id uuid NOT NULL REFERENCES webhook_events (event_id),
        event_type text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        give_up_after integer NOT NULL,
        next_attempt_at timestamptz,
        last_status_code integer,
        last_error text,
        created_at timestamptz NOT NULL,
        delivered_at timestamptz,
        UNIQUE (subscription_id, event_id)
    )
    """,
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)"
    " WHERE status = 'pending'",
    "CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, seq)",
    """
    CREATE TABLE webhook_attempts (
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        attempted_at timestamptz NOT NULL,
        status_code integer,
        error text,
        duration_ms integer NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    )
    """,
)
DOWN = (
    "DROP TABLE IF EXISTS webhook_attempts",
    "DROP TABLE IF EXISTS webhook_deliveries",
    "DROP TABLE IF EXISTS webhook_events",
    "DROP TABLE IF EXISTS webhook_subscriptions",
)


def upgrade() -> None:
    for statement in UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWN:
        op.execute(statement)
