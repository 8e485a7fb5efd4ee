"""Alembic environment of collab_svc (see shared.db.run_env)."""

from alembic import context

from shared.db import run_env

run_env(context)
