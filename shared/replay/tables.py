"""DDL of a rebuild: empty twins of the live tables in a schema of their own, and the swap.

A twin has the live table's columns, defaults, checks, keys and indexes under the same names
(`LIKE ... INCLUDING ALL` would rename indexes), and sequences of its own, started after the
live ones and moved past them again at the swap: an id handed out after the swap is above every
id of the replaced table. After the swap the live schema holds the twins under the original
names, and the replaced tables wait in an archive schema.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.replay.spec import SCHEMA_KINDS, schema_kind

APPLIED = "replay_applied"
#: a claim: which consumer applied which event, read where (the swap hands part of them over);
#: the topic is its place in the projection's list of topics
CLAIM_COLUMNS = ["consumer", "event_id", "topic", "part", "position"]


class ReplaySchemaError(Exception):
    """A live table the replay cannot twin safely (the message says what to do)."""


def q(*names: str) -> str:
    """A quoted, optionally schema-qualified identifier."""
    return ".".join('"' + n.replace('"', '""') + '"' for n in names)


@dataclass(frozen=True)
class Index:
    name: str
    definition: str


async def live_schema(conn: AsyncConnection) -> str:
    """Where the service's tables live: the first schema of its search_path."""
    return str((await conn.execute(text("SELECT current_schema()"))).scalar_one())


async def check_tables(conn: AsyncConnection, live: str, tables: tuple[str, ...]) -> None:
    """Refuse what a swap would break: missing tables, foreign keys, views, triggers."""
    for table in tables:
        oid = (
            await conn.execute(text("SELECT to_regclass(:t)::oid"), {"t": q(live, table)})
        ).scalar()
        if oid is None:
            raise ReplaySchemaError(f"table {live}.{table} does not exist (migrations not run?)")
        fks = await conn.execute(
            text(
                "SELECT conname FROM pg_constraint WHERE contype = 'f'"
                " AND (conrelid = :oid OR confrelid = :oid)"
            ),
            {"oid": oid},
        )
        views = await conn.execute(
            text(
                "SELECT DISTINCT r.ev_class::regclass::text AS name FROM pg_depend d"
                " JOIN pg_rewrite r ON r.oid = d.objid"
                " WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = :oid"
                " AND r.ev_class <> :oid"
            ),
            {"oid": oid},
        )
        triggers = await conn.execute(
            text("SELECT tgname FROM pg_trigger WHERE tgrelid = :oid AND NOT tgisinternal"),
            {"oid": oid},
        )
        found = {
            "foreign keys": [r[0] for r in fks],
            "views": [r[0] for r in views],
            "triggers": [r[0] for r in triggers],
        }
        blocking = "; ".join(f"{k}: {', '.join(v)}" for k, v in found.items() if v)
        if blocking:
            raise ReplaySchemaError(
                f"{live}.{table} cannot be swapped (they would stay with the old table): {blocking}"
            )


async def create_twins(
    conn: AsyncConnection, live: str, target: str, tables: tuple[str, ...]
) -> list[tuple[str, Index]]:
    """Create the schema and an empty twin of each table, with its keys and own sequences.

    Returns the plain (non-key) indexes, to be built after the bulk load: cheaper than
    maintaining them row by row.
    """
    await conn.execute(text(f"CREATE SCHEMA {q(target)}"))
    later: list[tuple[str, Index]] = []
    for table in tables:
        src, dst = q(live, table), q(target, table)
        await conn.execute(text(f"CREATE TABLE {dst} (LIKE {src} INCLUDING ALL EXCLUDING INDEXES)"))
        await _own_sequences(conn, live, target, table)
        keys = await conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint"
                " WHERE conrelid = to_regclass(:t) AND contype IN ('p', 'u', 'x')"
                " ORDER BY contype, conname"
            ),
            {"t": src},
        )
        for name, definition in list(keys):
            await conn.execute(text(f"ALTER TABLE {dst} ADD CONSTRAINT {q(name)} {definition}"))
        later += [(table, index) for index in await _plain_indexes(conn, live, table)]
    await conn.execute(
        text(
            f"CREATE UNLOGGED TABLE {q(target, APPLIED)} (consumer text, event_id uuid,"
            " topic smallint, part integer, position bigint, PRIMARY KEY (consumer, event_id))"
        )
    )
    return later


async def _sequenced_columns(conn: AsyncConnection, table: str) -> list[tuple[str, str]]:
    """(column, sequence) of each column of the qualified `table` that draws from a sequence."""
    rows = await conn.execute(
        text(
            "SELECT attname, pg_get_serial_sequence(:t, attname) AS seq FROM pg_attribute"
            " WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped"
            " AND pg_get_serial_sequence(:t, attname) IS NOT NULL"
        ),
        {"t": table},
    )
    return [(r.attname, r.seq) for r in rows]


async def _sequence_of(conn: AsyncConnection, table: str, column: str) -> str | None:
    found = await conn.execute(
        text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}
    )
    value = found.scalar()
    return str(value) if value is not None else None


async def _own_sequences(conn: AsyncConnection, live: str, target: str, table: str) -> None:
    """Identity columns get a new sequence from LIKE; serial defaults would still call the live
    table's one, so they get their own. Both start after the live sequence's last value."""
    for column, live_seq in await _sequenced_columns(conn, q(live, table)):
        own = await _sequence_of(conn, q(target, table), column)
        if own is None or own == live_seq:  # a serial: LIKE copied the default verbatim
            seq_name = live_seq.rsplit(".", 1)[-1].strip('"')
            own = q(target, seq_name)
            await conn.execute(text(f"CREATE SEQUENCE {own} OWNED BY {q(target, table, column)}"))
            await conn.execute(
                text(
                    f"ALTER TABLE {q(target, table)} ALTER COLUMN {q(column)}"
                    f" SET DEFAULT nextval('{own}'::regclass)"
                )
            )
        await catch_up_sequence(conn, own, live_seq)


async def catch_up_sequence(conn: AsyncConnection, own: str, other: str) -> None:
    """Move `own` past every value `other` handed out (never backwards)."""
    await conn.execute(
        text(
            f"SELECT setval(CAST(:own AS regclass), GREATEST("  # noqa: S608 - quoted names
            f"(SELECT last_value FROM {own}), (SELECT last_value FROM {other})))"
        ),
        {"own": own},
    )


async def _plain_indexes(conn: AsyncConnection, live: str, table: str) -> list[Index]:
    rows = await conn.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = to_regclass(:t)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            " ORDER BY c.relname"
        ),
        {"t": q(live, table)},
    )
    return [Index(name, definition) for name, definition in rows]


async def build_indexes(
    engine: AsyncEngine, live: str, target: str, indexes: list[tuple[str, Index]], at_once: int = 2
) -> None:
    """The plain indexes and the claims' index, `at_once` of them side by side (each on its own
    connection: an index build keeps one core busy)."""
    statements = [f"CREATE INDEX ON {q(target, APPLIED)} (consumer, topic, part, position)"]
    for table, index in indexes:
        on_live = f" ON {_regclass_text(live, table)} "
        if on_live not in index.definition:
            raise ReplaySchemaError(f"cannot read the definition of index {index.name}")
        statements.append(index.definition.replace(on_live, f" ON {q(target, table)} ", 1))
    turns = asyncio.Semaphore(at_once)

    async def build(statement: str) -> None:
        async with turns, engine.begin() as conn:
            await conn.execute(text(statement))

    await asyncio.gather(*(build(s) for s in statements))


def _regclass_text(schema: str, table: str) -> str:
    """How pg_get_indexdef names a table: quoted only where an identifier needs it."""

    def part(name: str) -> str:
        plain = name.isidentifier() and name == name.lower() and name.isascii()
        return name if plain else q(name)

    return f"{part(schema)}.{part(table)}"


async def hand_over(
    conn: AsyncConnection, live: str, build: str, committed: list[tuple[str, int, int, int]]
) -> None:
    """Into the live inbox: the replayed events its consumers have not passed yet (at or after
    their committed offsets) and those they parked, so that after the swap they apply none of
    them twice. What they passed is in their inbox already. Cheap under the locks: an index
    range per partition, not the whole claims table."""
    claims, inbox = q(build, APPLIED), q(live, "inbox")
    consumers, topics, parts, offsets = (
        (list(c) for c in zip(*committed, strict=True)) if committed else ([], [], [], [])
    )
    await conn.execute(
        text(
            f"INSERT INTO {inbox} (consumer, event_id) SELECT c.consumer, c.event_id"  # noqa: S608
            " FROM unnest(CAST(:consumers AS text[]), CAST(:topics AS smallint[]),"
            " CAST(:parts AS integer[]), CAST(:offsets AS bigint[])) AS k(consumer, topic, part, at)"
            f" JOIN {claims} c ON c.consumer = k.consumer AND c.topic = k.topic"
            " AND c.part = k.part AND c.position >= k.at ON CONFLICT DO NOTHING"
        ),
        {"consumers": consumers, "topics": topics, "parts": parts, "offsets": offsets},
    )
    await conn.execute(
        text(
            f"INSERT INTO {inbox} (consumer, event_id) SELECT c.consumer, c.event_id"  # noqa: S608
            f" FROM {q(live, 'dead_letters')} d JOIN {claims} c ON c.consumer = d.consumer"
            " AND c.event_id = CAST(CASE WHEN d.event_id ~* :uuid THEN d.event_id END AS uuid)"
            " ON CONFLICT DO NOTHING"
        ),
        {"uuid": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
    )


async def swap(
    conn: AsyncConnection, live: str, build: str, archive: str, tables: tuple[str, ...]
) -> None:
    """In the caller's transaction (with the live tables locked): live -> archive, build -> live."""
    await conn.execute(text(f"CREATE SCHEMA {q(archive)}"))
    for table in tables:
        await conn.execute(text(f"ALTER TABLE {q(live, table)} SET SCHEMA {q(archive)}"))
    for table in tables:
        await conn.execute(text(f"ALTER TABLE {q(build, table)} SET SCHEMA {q(live)}"))
        await _sequences_past_archive(conn, live, archive, table)
    await conn.execute(text(f"DROP SCHEMA {q(build)} CASCADE"))


async def _sequences_past_archive(
    conn: AsyncConnection, live: str, archive: str, table: str
) -> None:
    """Ids handed out after the swap stay above every id the replaced table handed out."""
    for column, own in await _sequenced_columns(conn, q(live, table)):
        old = await _sequence_of(conn, q(archive, table), column)
        if old is not None:
            await catch_up_sequence(conn, own, old)


async def row_counts(conn: AsyncConnection, schema: str, tables: tuple[str, ...]) -> dict[str, int]:
    counts = {}
    for table in tables:
        sql = f"SELECT count(*) FROM {q(schema, table)}"  # noqa: S608 - quoted names
        counts[table] = int((await conn.execute(text(sql))).scalar_one())
    return counts


async def leftover_schemas(conn: AsyncConnection, projection: str) -> list[tuple[str, str]]:
    """(schema, kind) of what earlier replays of `projection` left, oldest first."""
    rows = await conn.execute(text("SELECT nspname FROM pg_namespace ORDER BY nspname"))
    found = [(name, schema_kind(name, projection)) for (name,) in rows]
    return [(name, kind) for name, kind in found if kind in SCHEMA_KINDS]


async def drop_schema(conn: AsyncConnection, schema: str) -> None:
    await conn.execute(text(f"DROP SCHEMA IF EXISTS {q(schema)} CASCADE"))


async def clean_leftovers(engine: AsyncEngine, service: str, projection_name: str) -> list[str]:
    """Drop every schema replays of the projection left: archives, as-of views, failed builds."""
    async with engine.begin() as conn:
        found = await leftover_schemas(conn, f"{service}_{projection_name}")
        for name, _ in found:
            await drop_schema(conn, name)
    return [name for name, _ in found]
