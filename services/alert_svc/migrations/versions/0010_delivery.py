"""Durable delivery: the dead-letter table and parked outbox rows.

Revision ID: 0010
Revises: 0001
"""

from alembic import op

from shared.store.schema import create_delivery_schema, drop_delivery_schema

revision = "0010"
down_revision = "0001"


def upgrade() -> None:
    create_delivery_schema(op.execute)


def downgrade() -> None:
    drop_delivery_schema(op.execute)
