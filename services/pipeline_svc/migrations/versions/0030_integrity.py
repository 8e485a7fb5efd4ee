"""The org directory as the pipeline knows it from collab's MemberAssigned events.

Revision ID: 0030
Revises: 0010
"""

from alembic import op

revision = "0030"
down_revision = "0010"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE org_members (
            member_id text PRIMARY KEY,
            region text NOT NULL,
            team text NOT NULL,
            role text NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS org_members")
