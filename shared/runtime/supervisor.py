"""Keeps what `sightline up` started running: services, the embedded broker and PostgreSQL.

A service process (api or worker) that exits is started again after an exponential backoff,
each on its own schedule (its log says why it exited); the embedded broker comes back on the same port (empty: the relays notice and
publish their event logs again); an embedded PostgreSQL that went away is started again on
its data directory. Runs in a thread beside the launcher's main loop.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shared.runtime.processes import spawns_children_for_life

INTERVAL_S = 0.5
#: a process that stayed up this long starts its backoff afresh when it dies
STABLE_AFTER_S = 60.0


class Supervised(Protocol):
    """What the supervisor needs of the runtime."""

    #: the processes to keep running, by unit name (`pipeline`, `pipeline-worker`, ...)
    @property
    def units(self) -> Mapping[str, object]: ...

    def exit_code(self, unit: str) -> int | None: ...
    def respawn(self, unit: str, why: str) -> None: ...
    def broker_down(self) -> bool: ...
    def restart_broker(self) -> None: ...
    def postgres_down(self) -> bool: ...
    def restart_postgres(self) -> None: ...


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


@dataclass
class _Backoff:
    base_s: float
    cap_s: float
    failures: int = 0
    due: float | None = None  # when the next restart may happen
    up_since: float = field(default_factory=time.monotonic)

    def schedule(self, now: float) -> float:
        if now - self.up_since >= STABLE_AFTER_S:
            self.failures = 0
        delay = float(min(self.cap_s, self.base_s * 2**self.failures))
        self.failures += 1
        self.due = now + delay
        return delay


class Supervisor:
    def __init__(
        self,
        runtime: Supervised,
        say: Callable[[str], None],
        base_s: float = 1.0,
        cap_s: float = 30.0,
    ) -> None:
        self._runtime = runtime
        self._say = say
        self._base_s, self._cap_s = base_s, cap_s
        self._backoff: dict[str, _Backoff] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: how many times each part was restarted ("broker", "postgres" or a service name)
        self.restarts: dict[str, int] = {}

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sightline-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End supervision; only as part of stopping the runtime: the processes this thread
        restarted get SIGTERM when it ends (their parent-death signal follows it)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None

    def _loop(self) -> None:
        # what this thread restarts must still die with the launcher (see child_preexec)
        spawns_children_for_life()
        while not self._stop.wait(INTERVAL_S):
            try:
                self.check()
            except Exception as exc:  # keep supervising whatever one round ran into
                self._say(f"supervision round failed: {exc!r}")

    def _plan(self, part: str) -> _Backoff:
        return self._backoff.setdefault(part, _Backoff(self._base_s, self._cap_s))

    def _due(self, part: str, why: str, now: float) -> bool:
        """True when `part` (found down) may be restarted now; schedules it the first time."""
        plan = self._plan(part)
        if plan.due is None:
            delay = plan.schedule(now)
            self._say(f"{part} {why}; restarting it in {delay:.1f}s")
        return now >= (plan.due or now)

    def _restarted(self, part: str, now: float) -> None:
        plan = self._plan(part)
        plan.due, plan.up_since = None, now
        self.restarts[part] = self.restarts.get(part, 0) + 1

    def _failed(self, part: str, exc: Exception, now: float) -> None:
        delay = self._plan(part).schedule(now)
        self._say(f"restarting {part} failed ({exc}); next try in {delay:.1f}s")

    def check(self) -> None:
        """One round: restart whatever is down and due (PostgreSQL, broker, then processes)."""
        rt = self._runtime
        for part, down, restart in (
            ("postgres", rt.postgres_down, rt.restart_postgres),
            ("broker", rt.broker_down, rt.restart_broker),
        ):
            now = time.monotonic()
            if not self._stop.is_set() and down() and self._due(part, "went away", now):
                try:
                    restart()
                except Exception as exc:  # try again after a longer pause
                    self._failed(part, exc, now)
                else:
                    self._restarted(part, now)
                    self._say(f"{part} is back")
        for unit in list(rt.units):
            code = rt.exit_code(unit)
            now = time.monotonic()
            if self._stop.is_set() or code is None:
                continue
            why = f"exited with {describe_exit(code)}"
            if not self._due(unit, why, now):
                continue
            try:
                rt.respawn(unit, why)
            except Exception as exc:  # e.g. its port still taken: try again later
                self._failed(unit, exc, now)
            else:
                self._restarted(unit, now)
