"""DDL of the tables every service database has: events (with its outbox index), idempotency, inbox,
dead letters.

Migrations of each service call `create_shared_schema`, so the four stores are identical.
"""

from __future__ import annotations

from collections.abc import Callable

OUTBOX_CHANNEL = "sightline_outbox"

SHARED_DDL = [
    """
    CREATE TABLE events (
        global_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        stream_id text NOT NULL,
        stream_type text NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        event_name text NOT NULL,
        event_version integer NOT NULL,
        payload jsonb NOT NULL,
        metadata jsonb NOT NULL,
        partition_key text NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        published_at timestamptz,
        CONSTRAINT events_stream_version UNIQUE (stream_id, version)
    )
    """,
    # the outbox is the set of unpublished events: a partial index, no second table to keep in step
    "CREATE INDEX events_unpublished ON events (global_id) WHERE published_at IS NULL",
    "CREATE INDEX events_commit_order ON events (tx_id, global_id)",
    "CREATE INDEX events_occurred_at ON events (occurred_at)",
    f"""
    CREATE FUNCTION sightline_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER events_notify_outbox AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION sightline_notify_outbox()
    """,
    """
    CREATE TABLE idempotency_keys (
        scope text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        status_code integer NOT NULL,
        body jsonb,
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
    )
    """,
    """
    CREATE TABLE inbox (
        consumer text NOT NULL,
        event_id uuid NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
    )
    """,
]

DROP_SHARED_DDL = [
    "DROP TABLE IF EXISTS inbox",
    "DROP TABLE IF EXISTS idempotency_keys",
    "DROP TRIGGER IF EXISTS events_notify_outbox ON events",
    "DROP FUNCTION IF EXISTS sightline_notify_outbox()",
    "DROP TABLE IF EXISTS events",
]


def create_shared_schema(execute: Callable[[str], object]) -> None:
    for statement in SHARED_DDL:
        execute(statement)


def drop_shared_schema(execute: Callable[[str], object]) -> None:
    for statement in DROP_SHARED_DDL:
        execute(statement)


# Durable delivery: what a consumer could not apply (replayable), and outbox rows the relay
# could not publish (parked with their error; later rows of the same key wait behind them).
DELIVERY_DDL = [
    """
    CREATE TABLE dead_letters (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        consumer text NOT NULL,
        event_id text,
        event_type text,
        topic text NOT NULL,
        partition integer NOT NULL,
        "offset" bigint NOT NULL,
        key bytea,
        value bytea,
        headers jsonb NOT NULL,
        error text NOT NULL,
        attempts integer NOT NULL DEFAULT 1,
        status text NOT NULL DEFAULT 'parked'
            CHECK (status IN ('parked', 'replay', 'replayed', 'discarded')),
        parked_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # not unique: offsets start again at 0 on a broker that lost its log
    'CREATE INDEX dead_letters_origin ON dead_letters (consumer, topic, partition, "offset")',
    "CREATE INDEX dead_letters_open ON dead_letters (consumer, status) WHERE status <> 'replayed'",
    "ALTER TABLE events ADD COLUMN parked_at timestamptz, ADD COLUMN park_error text",
    """
    CREATE INDEX events_parked ON events (partition_key, global_id)
    WHERE parked_at IS NOT NULL AND published_at IS NULL
    """,
]

DROP_DELIVERY_DDL = [
    "DROP INDEX IF EXISTS events_parked",
    "ALTER TABLE events DROP COLUMN IF EXISTS parked_at, DROP COLUMN IF EXISTS park_error",
    "DROP TABLE IF EXISTS dead_letters",
]


def create_delivery_schema(execute: Callable[[str], object]) -> None:
    for statement in DELIVERY_DDL:
        execute(statement)


def drop_delivery_schema(execute: Callable[[str], object]) -> None:
    for statement in DROP_DELIVERY_DDL:
        execute(statement)


# Waking the relay (decision 0043): a session that says `sightline.outbox_wake = after_commit`
# notifies after its commit, from outside the transaction (`shared.messaging.wake`); NOTIFY
# inside a transaction would serialise its commit with every other notifying one.
WAKE_DDL = [
    f"""
    CREATE OR REPLACE FUNCTION sightline_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('sightline.outbox_wake', true) IS DISTINCT FROM 'after_commit' THEN
            PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
        END IF;
        RETURN NULL;
    END $$
    """,
]

DROP_WAKE_DDL = [
    f"""
    CREATE OR REPLACE FUNCTION sightline_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
        RETURN NULL;
    END $$
    """,
]


def create_wake_schema(execute: Callable[[str], object]) -> None:
    for statement in WAKE_DDL:
        execute(statement)


def drop_wake_schema(execute: Callable[[str], object]) -> None:
    for statement in DROP_WAKE_DDL:
        execute(statement)
