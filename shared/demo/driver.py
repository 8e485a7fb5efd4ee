"""Plays a plan against the pipeline and collab REST APIs: phase by phase, streams in parallel
(each stream's commands in order), an Idempotency-Key per command so a rerun or a retry never
records anything twice."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from shared.demo.generator import streams
from shared.demo.plan import PHASES, REF, Command, Plan, Service

#: a transient answer is retried this often; a 409 account-not-yet-known until `catch_up_s`
ATTEMPTS = 6
FAILURES_KEPT = 20
BLOCKED = "stage-gate-blocked"
NOT_YET_KNOWN = "account-not-yet-known"


class Progress(Protocol):
    def phase(self, name: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class Report:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    #: answers given before (Idempotency-Key replay, or a synced log already ingested)
    replayed: int = 0
    server_errors: int = 0
    skipped: int = 0
    unexpected: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.unexpected == 0 and self.skipped == 0

    def fail(self, cmd: Command, detail: str) -> None:
        self.unexpected += 1
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append(f"{cmd.phase} {cmd.path} at {cmd.at.isoformat()}: {detail}")


def run_id(*parts: object) -> str:
    """Names one run's Idempotency-Keys: the same parameters replay, other ones do not."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12]


class Driver:
    def __init__(
        self,
        clients: dict[Service, httpx.AsyncClient],
        token_for: Callable[[str], str],
        run: str,
        *,
        concurrency: int = 8,
        catch_up_s: float = 120.0,
        progress: Progress | None = None,
    ) -> None:
        self.clients, self.token_for, self.run = clients, token_for, run
        self.concurrency, self.catch_up_s = concurrency, catch_up_s
        self.progress: Progress = progress or _Silent()
        self.report = Report()
        self.ids: dict[str, str] = {}
        self._index: dict[int, int] = {}

    async def play(self, plan: Plan) -> Report:
        self._index = {id(c): i for i, c in enumerate(plan.commands)}
        for phase in PHASES:
            cmds = [c for c in plan.commands if c.phase == phase]
            if not cmds:
                continue
            self.progress.phase(phase, len(cmds))
            queue: asyncio.Queue[list[Command]] = asyncio.Queue()
            for stream in streams(cmds).values():
                queue.put_nowait(stream)
            workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.concurrency)]
            await asyncio.gather(*workers)
        return self.report

    async def _worker(self, queue: asyncio.Queue[list[Command]]) -> None:
        while not queue.empty():
            stream = queue.get_nowait()
            for i, cmd in enumerate(stream):
                if cmd.ref is not None and cmd.ref not in self.ids:
                    # what it acts on was never created: the rest of the stream cannot follow
                    self.report.skipped += len(stream) - i
                    self.progress.advance(len(stream) - i)
                    break
                await self._play(cmd)
                self.progress.advance()

    async def _play(self, cmd: Command) -> None:
        path = cmd.path.replace(REF, self.ids[cmd.ref]) if cmd.ref else cmd.path
        headers = {
            "Authorization": f"Bearer {self.token_for(cmd.actor)}",
            "Idempotency-Key": f"demo-{self.run}-{self._index[id(cmd)]}",
        }
        answer = await self._send(cmd, path, headers)
        if answer is None:
            return
        self.report.sent += 1
        self.report.statuses[answer.status_code] += 1
        problem = _problem_type(answer)
        if answer.status_code != cmd.expect or (cmd.expect == 409 and BLOCKED not in problem):
            self.report.fail(cmd, f"{answer.status_code} {answer.text[:300]}")
            return
        body: Any = answer.json()
        ingested = body["results"][0]["status"] if path == "/ingest/activities" else None
        if ingested == "unmatched":
            self.report.fail(cmd, "the synced log matched no open opportunity")
        if answer.headers.get("Idempotent-Replayed") == "true" or ingested == "duplicate":
            self.report.replayed += 1
        if cmd.creates is not None:
            self.ids[cmd.creates] = str(body.get("id") or body["request_id"])

    async def _send(
        self, cmd: Command, path: str, headers: dict[str, str]
    ) -> httpx.Response | None:
        """The answer, after retrying what is transient; None when it never came."""
        client = self.clients[cmd.service]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.catch_up_s
        attempt = 0
        while True:
            attempt += 1
            try:
                r = await client.request(cmd.method, path, json=cmd.body, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= ATTEMPTS:
                    self.report.fail(cmd, f"no answer: {exc!r}")
                    return None
            else:
                if r.status_code >= 500:
                    self.report.server_errors += 1
                elif r.status_code == 409 and NOT_YET_KNOWN in _problem_type(r):
                    # the pipeline learns accounts from collab's events: give it time
                    if loop.time() < deadline:
                        self.report.retries += 1
                        await asyncio.sleep(0.5)
                        attempt -= 1
                        continue
                    return r
                else:
                    return r
                if attempt >= ATTEMPTS:
                    return r
            self.report.retries += 1
            await asyncio.sleep(min(8.0, 0.25 * 2**attempt))


def _problem_type(r: httpx.Response) -> str:
    if not r.headers.get("content-type", "").startswith("application/problem+json"):
        return ""
    try:
        return str(r.json().get("type", ""))
    except ValueError:
        return ""
