"""The relay is woken after commit by sessions that ask so (decision 0043).

Revision ID: 0040
Revises: 0020
"""

from alembic import op

from shared.store.schema import create_wake_schema, drop_wake_schema

revision = "0040"
down_revision = "0020"


def upgrade() -> None:
    create_wake_schema(op.execute)


def downgrade() -> None:
    drop_wake_schema(op.execute)
