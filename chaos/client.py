"""A client that behaves as a real one during faults: it retries a command that got no answer
or a 5xx with the same Idempotency-Key, and records every attempt and the final outcome."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from chaos.stack import Stack

FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 2.0
REQUEST_TIMEOUT_S = 10.0
#: synced logs: idempotent by their external id rather than by Idempotency-Key
SYNC_KINDS = ("sync_activity", "sync_conflict")


@dataclass
class Command:
    """One command as the client saw it; `id` is its Idempotency-Key and correlation id."""

    kind: str
    service: str
    path: str
    body: dict[str, Any]
    actor: str
    #: the event names the command's service must store for it when it succeeds
    expected_events: tuple[str, ...]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: status code or exception name of every attempt
    attempts: list[str] = field(default_factory=list)
    status: int | None = None
    response: Any = None
    sent_at: float = 0.0
    answered_at: float | None = None
    #: a deliberate resend of an answered command (same key, same body)
    repeat_of: Command | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused(self) -> bool:
        return self.status is not None and 400 <= self.status < 500

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1

    def repeat(self) -> Command:
        return Command(
            f"repeat {self.kind}",
            self.service,
            self.path,
            self.body,
            self.actor,
            self.expected_events,
            id=self.id,
            repeat_of=self,
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "service": self.service,
            "path": self.path,
            "actor": self.actor,
            "attempts": self.attempts,
            "status": self.status,
            "response": self.response,
            "seconds": None if self.answered_at is None else self.answered_at - self.sent_at,
        }


class Client:
    """Sends commands and keeps all of them in `log`, in the order they were started."""

    def __init__(self, stack: Stack, deadline_s: float) -> None:
        self._stack = stack
        self._deadline_s = deadline_s
        self._http = httpx.AsyncClient(
            timeout=REQUEST_TIMEOUT_S, limits=httpx.Limits(max_connections=64)
        )
        self.log: list[Command] = []

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, command: Command) -> Command:
        self.log.append(command)
        headers = {
            "Authorization": f"Bearer {self._stack.tokens[command.actor]}",
            "Idempotency-Key": command.id,
            "X-Correlation-Id": command.id,
        }
        url = f"{self._stack.url(command.service)}{command.path}"
        command.sent_at = time.monotonic()
        deadline = command.sent_at + self._deadline_s
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                response = await self._http.post(url, json=command.body, headers=headers)
            except httpx.HTTPError as exc:
                command.attempts.append(type(exc).__name__)
            else:
                command.attempts.append(str(response.status_code))
                if response.status_code < 500:
                    command.status = response.status_code
                    command.response = _json(response)
                    command.answered_at = time.monotonic()
                    return command
            if time.monotonic() + backoff > deadline:
                return command  # never answered: reported as such
            await asyncio.sleep(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    async def get(self, service: str, path: str, actor: str = "admin") -> Any:
        headers = {"Authorization": f"Bearer {self._stack.tokens[actor]}"}
        response = await self._http.get(f"{self._stack.url(service)}{path}", headers=headers)
        response.raise_for_status()
        return response.json()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
