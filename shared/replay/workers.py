"""Spreading a replay's partitions over worker processes: decoding is CPU-bound Python.

Each worker reads its share of the partitions in offset order and applies it in transactions
of its own into the same rebuilt tables, as the members of a consumer group share partitions.
The claims table still applies an event once, even if it shows up in two partitions. Workers are
forked, so they share the parent's imports and objects (the plan's handlers) at no cost; each
builds its own event loop, engine and consumer, and never touches what it inherited.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import text

from shared.db import make_engine
from shared.events.registry import EventRegistry
from shared.replay.applier import Applier, Counts, ReplayError
from shared.replay.feed import apply_until
from shared.replay.reader import Offsets, TopicReader
from shared.replay.spec import Projection
from shared.replay.tables import q
from shared.settings import Settings


@dataclass(frozen=True)
class Job:
    settings: Settings
    registry: EventRegistry
    projection: Projection
    build: str
    live: str
    starts: Offsets
    ends: Offsets
    as_of: datetime | None
    batch_records: int


def share(starts: Offsets, ends: Offsets, workers: int) -> list[tuple[Offsets, Offsets]]:
    """Partitions dealt to at most `workers` shares, largest backlog first, to even them out."""
    todo = sorted(
        (tp for tp in ends if ends[tp] > starts.get(tp, 0)),
        key=lambda tp: starts.get(tp, 0) - ends[tp],
    )
    shares: list[tuple[Offsets, Offsets]] = [({}, {}) for _ in range(min(workers, len(todo)))]
    load = [0] * len(shares)
    for tp in todo:
        i = load.index(min(load))
        shares[i][0][tp], shares[i][1][tp] = starts.get(tp, 0), ends[tp]
        load[i] += ends[tp] - starts.get(tp, 0)
    return shares


async def run_jobs(jobs: list[Job], advance: Callable[[int], None]) -> Counts:
    """Run each job in a forked process; their counts, summed. Raises ReplayError on a failure
    (after stopping the others)."""
    context = multiprocessing.get_context("fork")
    gc.freeze()  # the children never collect what they inherit (and copy fewer pages)
    running: list[tuple[BaseProcess, Connection]] = []
    try:
        for job in jobs:
            ours, theirs = context.Pipe(duplex=False)
            child = context.Process(target=_work, args=(job, theirs), daemon=True)
            child.start()
            theirs.close()
            running.append((child, ours))
    finally:
        gc.unfreeze()
    total = Counts()
    try:
        pending = dict(enumerate(running))
        while pending:
            for i, (process, pipe) in list(pending.items()):
                while pipe.poll():
                    kind, value = _receive(pipe, process)
                    if kind == "progress":
                        advance(value)
                    elif kind == "done":
                        total.add(value)
                        del pending[i]
                        break
                    else:
                        raise ReplayError(value)
            await asyncio.sleep(0.05)
        return total
    finally:
        for process, pipe in running:
            if process.is_alive():
                process.kill()
            process.join(timeout=5)
            pipe.close()


def _receive(pipe: Connection, process: BaseProcess) -> tuple[str, Any]:
    try:
        message: tuple[str, Any] = pipe.recv()
    except EOFError:
        return "error", f"a replay worker ended without a word (exit code {process.exitcode})"
    return message


def _work(job: Job, pipe: Connection) -> None:
    """The child: its own loop; Ctrl-C is the parent's to handle (it stops the children)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.set_wakeup_fd(-1)
    try:
        counts = asyncio.run(_apply(job, lambda n: pipe.send(("progress", n))))
        pipe.send(("done", counts))
    except BaseException as exc:  # reported to the parent, which stops the replay
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


async def _apply(job: Job, advance: Callable[[int], None]) -> Counts:
    settings = job.settings
    engine = make_engine(settings.database_url or "", pool_size=1)
    topics = tuple(dict.fromkeys(tp.topic for tp in job.starts))
    reader = TopicReader(
        settings.kafka_bootstrap_servers or "",
        topics,
        settings.fetch_max_wait_ms,
        job.batch_records,
    )
    applier = Applier(job.projection, job.registry, job.build, settings.topic_prefix, job.as_of)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f"SET search_path TO {q(job.build)}, {q(job.live)}"))
            await conn.commit()
            await reader.start(job.starts)
            await apply_until(conn, reader, applier, job.ends, True, advance)
    finally:
        await reader.stop()
        await engine.dispose()
    return applier.counts
