"""What the pipeline knows of collab: account ownership, contact grants; contact matching; ingestion.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE known_accounts (
            account_id text PRIMARY KEY,
            owning_region text NOT NULL,
            group_id text,
            updated_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE contact_grants (
            request_id text PRIMARY KEY,
            account_id text NOT NULL,
            member_id text NOT NULL,
            member_region text NOT NULL,
            valid_from timestamptz,
            valid_until timestamptz,
            status text NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX contact_grants_lookup ON contact_grants (account_id, member_id)")
    op.execute(
        """
        CREATE TABLE contact_points (
            contact text NOT NULL,
            account_id text NOT NULL,
            opportunity_id text NOT NULL DEFAULT '',
            PRIMARY KEY (contact, account_id, opportunity_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE ingested_logs (
            external_id text PRIMARY KEY,
            opportunity_id text NOT NULL,
            activity_id text NOT NULL,
            ingested_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    for table in ("ingested_logs", "contact_points", "contact_grants", "known_accounts"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
