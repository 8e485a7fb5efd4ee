"""Event store, outbox, inbox, idempotency keys and the opportunity view.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.store.schema import create_shared_schema, drop_shared_schema

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_schema(op.execute)
    op.execute(
        """
        CREATE TABLE opportunity_views (
            seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            opportunity_id text PRIMARY KEY,
            account_id text NOT NULL,
            region text NOT NULL,
            team text NOT NULL,
            owner_id text NOT NULL,
            stage text NOT NULL,
            status text NOT NULL,
            version integer NOT NULL,
            opened_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            last_customer_activity_at timestamptz,
            view jsonb NOT NULL
        )
        """
    )
    for column in ("account_id", "region", "owner_id", "stage", "status"):
        op.execute(f"CREATE INDEX opportunity_views_{column} ON opportunity_views ({column}, seq)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS opportunity_views")
    drop_shared_schema(op.execute)
