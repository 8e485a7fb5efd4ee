"""Batched apply: the messages one fetch returned for a partition, in one transaction.

The inbox rows of a whole run of messages are claimed with one statement, the handlers run only
for the ids it returned (in offset order, on the same connection) and one commit covers them
all. A run stops before any message that cannot simply be applied (one to park, one that must
wait): that message goes through the one-at-a-time path, so it is parked or waited for at its
own offset and nothing after it overtakes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiokafka import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events.cloudevents import MalformedCloudEventError
from shared.events.envelope import Envelope
from shared.events.registry import UnknownEventError
from shared.messaging.faults import StallError

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]
#: applies several events at once (one multi-row statement); called in offset order
BatchHandler = Callable[[AsyncConnection, Sequence[Envelope]], Awaitable[None]]
Record: TypeAlias = "ConsumerRecord[Any, Any]"
Decode = Callable[[Record], tuple[Envelope | None, Handler | None]]
CLAIM_MANY = text(
    "INSERT INTO inbox (consumer, event_id) SELECT :consumer, unnest(CAST(:ids AS uuid[]))"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)


@dataclass(frozen=True)
class Item:
    msg: Record
    #: None when no handler here wants the event: its offset just advances
    envelope: Envelope | None
    handler: Handler | None


@dataclass(frozen=True)
class Run:
    """Consecutive messages applied in one transaction."""

    items: list[Item]

    @property
    def first_offset(self) -> int:
        return int(self.items[0].msg.offset)

    @property
    def last_offset(self) -> int:
        return int(self.items[-1].msg.offset)


@dataclass(frozen=True)
class Single:
    """A message for the one-at-a-time path: it is parked, or it waits."""

    msg: Record

    @property
    def first_offset(self) -> int:
        return int(self.msg.offset)

    @property
    def last_offset(self) -> int:
        return int(self.msg.offset)


def plan(messages: list[Record], decode: Decode, cap: int) -> Iterator[Run | Single]:
    """Split a partition's messages into runs of at most `cap`, in offset order.

    Decoding is lazy: nothing is decoded beyond a message that must wait, since the partition
    stops there.
    """
    items: list[Item] = []
    for msg in messages:
        try:
            envelope, handler = decode(msg)
        except (MalformedCloudEventError, UnknownEventError):
            stop = False
        except StallError:
            stop = True
        else:
            items.append(Item(msg, envelope, handler))
            if len(items) >= cap:
                yield Run(items)
                items = []
            continue
        if items:
            yield Run(items)
            items = []
        yield Single(msg)
        if stop:
            return
    if items:
        yield Run(items)


async def apply(
    conn: AsyncConnection,
    consumer: str,
    items: list[Item],
    batch_handlers: Mapping[str, BatchHandler],
) -> dict[str, int]:
    """Claim the run's inbox rows in bulk and apply what was claimed; outcome -> count."""
    counts = {"applied": 0, "duplicate": 0, "ignored": 0}
    wanted = [i for i in items if i.envelope is not None and i.handler is not None]
    counts["ignored"] = len(items) - len(wanted)
    if not wanted:
        return counts
    ids = list(dict.fromkeys(str(i.envelope.event_id) for i in wanted if i.envelope is not None))
    claimed = {
        str(row.event_id)
        for row in await conn.execute(CLAIM_MANY, {"consumer": consumer, "ids": ids})
    }
    todo: list[Item] = []
    for item in wanted:
        assert item.envelope is not None
        event_id = str(item.envelope.event_id)
        if event_id in claimed:
            claimed.discard(event_id)  # a repeat later in the same run is a duplicate
            todo.append(item)
    counts["applied"] = len(todo)
    counts["duplicate"] = len(wanted) - len(todo)
    await _run_handlers(conn, todo, batch_handlers)
    return counts


async def _run_handlers(
    conn: AsyncConnection, todo: list[Item], batch_handlers: Mapping[str, BatchHandler]
) -> None:
    """Per-event handlers one by one; consecutive events of one batch handler in one call."""
    pending: list[Envelope] = []
    pending_handler: BatchHandler | None = None
    for item in todo:
        assert item.envelope is not None and item.handler is not None
        bulk = batch_handlers.get(item.envelope.name)
        if pending_handler is not None and bulk != pending_handler:
            await pending_handler(conn, pending)
            pending, pending_handler = [], None
        if bulk is None:
            await item.handler(conn, item.envelope)
            continue
        pending_handler = bulk
        pending.append(item.envelope)
    if pending_handler is not None:
        await pending_handler(conn, pending)
