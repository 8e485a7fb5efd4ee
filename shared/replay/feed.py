"""The replay's loop: read up to the end offsets, decode, apply; decoding overlaps the database.

While a batch is in the database, the next one is decoded (in slices, so the applying side goes
on as soon as its statement returns). Used by the replay itself and by its worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.replay.applier import Applier, Item
from shared.replay.reader import Offsets, TopicReader

#: records decoded between two yields to the event loop (a few milliseconds of work)
DECODE_SLICE = 250
#: batches between two explicit garbage collections (see `fewer_collections`)
COLLECT_EVERY = 20


async def apply_until(
    conn: AsyncConnection,
    reader: TopicReader,
    applier: Applier,
    ends: Offsets,
    own_transactions: bool,
    advance: Callable[[int], None],
) -> None:
    """Everything below `ends`: a transaction per batch, or the caller's (with savepoints)."""
    queue: asyncio.Queue[tuple[int, list[Item]] | BaseException | None] = asyncio.Queue(2)

    async def feed() -> None:
        try:
            async for records in reader.read_until(ends):
                items: list[Item] = []
                for start in range(0, len(records), DECODE_SLICE):
                    items += applier.decode(records[start : start + DECODE_SLICE])
                    await asyncio.sleep(0)
                await queue.put((len(records), items))
            await queue.put(None)
        except Exception as exc:  # handed to the applying side, which raises it
            await queue.put(exc)

    feeder = asyncio.create_task(feed())
    batches = 0
    try:
        while (got := await queue.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            read, items = got
            if own_transactions:
                async with conn.begin():
                    await applier.apply(conn, items)
            else:
                await applier.apply(conn, items)
            advance(read)
            batches += 1
            if batches % COLLECT_EVERY == 0:
                gc.collect()
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """No automatic collections while a replay runs: it allocates millions of short-lived
    objects (records, envelopes, parameters), and the collector walking them cost a third of
    the replay's CPU at the default threshold, an eighth at 100,000. Refcounting frees nearly
    all of them; `apply_until` collects explicitly every COLLECT_EVERY batches for the rest."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
