"""Collab read models: org directory, accounts and owners, contact requests, timeline, conflicts.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"

TABLES = [
    """
    CREATE TABLE org_regions (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        region_id text PRIMARY KEY,
        name text NOT NULL,
        name_zh text,
        version integer NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE org_teams (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        team_id text PRIMARY KEY,
        region_id text NOT NULL,
        name text NOT NULL,
        version integer NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE org_members (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        member_id text PRIMARY KEY,
        name text NOT NULL,
        email text,
        role text NOT NULL,
        region_id text NOT NULL,
        team_id text NOT NULL,
        manager_id text,
        version integer NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE accounts (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        account_id text PRIMARY KEY,
        name text NOT NULL,
        owning_region text NOT NULL,
        group_id text,
        industry text,
        contact_emails jsonb NOT NULL,
        contact_phones jsonb NOT NULL,
        version integer NOT NULL,
        registered_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    # who owned the account since when: conflicts are judged by the owner at the contact's time
    """
    CREATE TABLE account_owners (
        account_id text NOT NULL,
        version integer NOT NULL,
        owning_region text NOT NULL,
        since timestamptz NOT NULL,
        PRIMARY KEY (account_id, version)
    )
    """,
    # one row per request; an approved row is a grant, found by the expiry scheduler
    """
    CREATE TABLE contact_requests (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        request_id text PRIMARY KEY,
        account_id text NOT NULL,
        owning_region text NOT NULL,
        requester_id text NOT NULL,
        requester_region text NOT NULL,
        requester_team text NOT NULL,
        purpose text NOT NULL,
        window_start timestamptz NOT NULL,
        window_end timestamptz NOT NULL,
        status text NOT NULL,
        requested_at timestamptz NOT NULL,
        decided_by text,
        decided_at timestamptz,
        reason text,
        valid_from timestamptz,
        valid_until timestamptz,
        expired_at timestamptz,
        version integer NOT NULL
    )
    """,
    """
    CREATE TABLE timeline_entries (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        account_id text NOT NULL,
        group_id text,
        kind text NOT NULL,
        region text,
        actor text,
        occurred_at timestamptz NOT NULL,
        data jsonb NOT NULL
    )
    """,
    """
    CREATE TABLE conflicts (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        conflict_id text PRIMARY KEY,
        account_id text NOT NULL,
        group_id text,
        owning_region text NOT NULL,
        contact_region text NOT NULL,
        actor_id text NOT NULL,
        opportunity_id text NOT NULL,
        activity_id text NOT NULL,
        activity_kind text NOT NULL,
        source text NOT NULL,
        contact_at timestamptz NOT NULL,
        detected_at timestamptz NOT NULL
    )
    """,
    # customer-facing activities on accounts collab does not know yet: judged on registration
    """
    CREATE TABLE pending_conflict_checks (
        activity_id text PRIMARY KEY,
        account_id text NOT NULL,
        event_id uuid NOT NULL,
        correlation_id text,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
    )
    """,
]

INDEXES = [
    "CREATE INDEX org_teams_region ON org_teams (region_id, seq)",
    "CREATE INDEX org_members_region ON org_members (region_id, seq)",
    "CREATE INDEX org_members_team ON org_members (team_id, seq)",
    "CREATE INDEX org_members_manager ON org_members (manager_id, seq)",
    "CREATE INDEX accounts_region ON accounts (owning_region, seq)",
    "CREATE INDEX accounts_group ON accounts (group_id, seq)",
    "CREATE INDEX contact_requests_requester ON contact_requests (requester_id, seq)",
    "CREATE INDEX contact_requests_inbox ON contact_requests (owning_region, status, seq)",
    "CREATE INDEX contact_requests_status ON contact_requests (status, seq)",
    "CREATE INDEX contact_requests_grants ON contact_requests (account_id, requester_id)"
    " WHERE valid_from IS NOT NULL",
    "CREATE INDEX contact_requests_due ON contact_requests (valid_until) WHERE status = 'approved'",
    # keyset pages: (scope, occurred_at, seq) makes a page an index range scan, O(log n)
    "CREATE INDEX timeline_account ON timeline_entries (account_id, occurred_at, seq)",
    "CREATE INDEX timeline_account_kind ON timeline_entries (account_id, kind, occurred_at, seq)",
    "CREATE INDEX timeline_group ON timeline_entries (group_id, occurred_at, seq)"
    " WHERE group_id IS NOT NULL",
    "CREATE INDEX timeline_group_kind ON timeline_entries (group_id, kind, occurred_at, seq)"
    " WHERE group_id IS NOT NULL",
    "CREATE INDEX conflicts_owning ON conflicts (owning_region, contact_at, seq)",
    "CREATE INDEX conflicts_contact ON conflicts (contact_region, contact_at, seq)",
    "CREATE INDEX conflicts_month ON conflicts (contact_at)",
    "CREATE INDEX pending_conflict_checks_account ON pending_conflict_checks (account_id)",
]


def upgrade() -> None:
    for statement in TABLES + INDEXES:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "pending_conflict_checks",
        "conflicts",
        "timeline_entries",
        "contact_requests",
        "account_owners",
        "accounts",
        "org_members",
        "org_teams",
        "org_regions",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")
