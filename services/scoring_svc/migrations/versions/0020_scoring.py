"""Scoring read side: facts from pipeline and collab events, published scores and forecasts.

Revision ID: 0020
Revises: 0010
"""

from alembic import op

revision = "0020"
down_revision = "0010"

TABLES = [
    # the consumed events scoring needs, trimmed of bulky free text; read back as contracts
    """
    CREATE TABLE scoring_facts (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        event_name text NOT NULL,
        event_version integer NOT NULL,
        occurred_at timestamptz NOT NULL,
        payload jsonb NOT NULL
    )
    """,
    "CREATE INDEX scoring_facts_occurred_at ON scoring_facts (occurred_at)",
    # every published score; a recompute adds a revision, earlier ones stay
    """
    CREATE TABLE health_scores (
        scope text NOT NULL,
        scope_id text NOT NULL,
        week text NOT NULL,
        revision integer NOT NULL,
        score double precision,
        body jsonb NOT NULL,
        model_version integer NOT NULL,
        computed_at timestamptz NOT NULL,
        PRIMARY KEY (scope, scope_id, week, revision)
    )
    """,
    "CREATE INDEX health_scores_week ON health_scores (week, scope, revision)",
    # one row per week and revision published: claimed first, so two schedulers never twin
    """
    CREATE TABLE health_publications (
        week text NOT NULL,
        revision integer NOT NULL,
        model_version integer NOT NULL,
        published_at timestamptz NOT NULL,
        PRIMARY KEY (week, revision)
    )
    """,
    # what the schedulers have seen close: they publish what closes after it
    """
    CREATE TABLE scoring_watermarks (
        name text PRIMARY KEY,
        label text NOT NULL
    )
    """,
    """
    CREATE TABLE forecast_publications (
        quarter text PRIMARY KEY,
        body jsonb NOT NULL,
        published_at timestamptz NOT NULL
    )
    """,
]


def upgrade() -> None:
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "forecast_publications",
        "scoring_watermarks",
        "health_publications",
        "health_scores",
        "scoring_facts",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")
