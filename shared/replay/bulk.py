"""COPY for rebuilds: rows streamed into a table in PostgreSQL's binary format.

A rebuild's batch handler may use it: the replay hands it each event once (its claims) and the
tables it writes are new, filled by the replay alone, so there is nothing to conflict with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


async def copy_rows(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    schema: str | None = None,
) -> None:
    """COPY `rows` into `table`, named as the handlers name it (resolved by the search_path),
    or in `schema` when given."""
    if not rows:
        return
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        table, records=rows, columns=list(columns), schema_name=schema
    )
