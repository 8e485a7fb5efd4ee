"""Event store, outbox, inbox and idempotency keys.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.store.schema import create_shared_schema, drop_shared_schema

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_schema(op.execute)


def downgrade() -> None:
    drop_shared_schema(op.execute)
