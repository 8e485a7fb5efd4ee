"""`sightline up`: PostgreSQL and a broker (embedded unless configured), then the four services,
each as an api process and a worker process (see `shared/runtime/units.py`)."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from shared.runtime.embedded import EmbeddedKafka, EmbeddedPostgres, free_port
from shared.runtime.processes import child_preexec, log_tail, port_is_open, stop_process_groups
from shared.runtime.provision import (
    LaunchError,
    demo_token,
    ensure_domain_topics,
    env_value,
    provide_broker,
    provide_databases,
    topic_names,
)
from shared.runtime.supervisor import Supervisor
from shared.runtime.units import SPLIT, Unit, check_roles, plan_units

SERVICES: tuple[str, ...] = ("pipeline", "scoring", "alert", "collab")
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["SERVICES", "LaunchError", "Runtime", "Unit", "service_argv", "up"]


def service_argv(service: str, role: str) -> list[str]:
    """How a service process is started; tests may substitute a stand-in."""
    return [sys.executable, "-m", "shared.cli", "serve", service, "--role", role]


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    log: IO[bytes]


class Runtime:
    """Everything `sightline up` runs, as one object that tests can start and stop too.

    `env` overrides the process environment, for the configuration read here and for the
    services' environment alike. Each service runs as one process per role in `roles`: an api
    and a worker (default), or one process doing both (`("all",)`). Explicit `ports`,
    `worker_ports` and `base_port` win over `SIGHTLINE_<SVC>_PORT`/`_WORKER_PORT`; `ports` and
    `urls` name the api process of each service, `worker_ports` and `worker_urls` the worker.
    `argv(service, role)` is the command of a process (default: `service_argv`).
    Once started it is supervised (unless `supervise=False`): a process that exits is
    started again with exponential backoff from `restart_backoff_s`, the embedded broker and
    PostgreSQL are restarted when they go away. `restarts` counts what was restarted, by unit
    name (`pipeline`, `pipeline-worker`), `broker` or `postgres`.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        base_port: int | None = None,
        kafka_port: int | None = None,
        ports: Mapping[str, int] | None = None,
        worker_ports: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
        services: Sequence[str] = SERVICES,
        roles: Sequence[str] = SPLIT,
        ready_timeout_s: float = READY_TIMEOUT_S,
        say: Callable[[str], None] | None = None,
        argv: Callable[[str, str], list[str]] | None = None,
        supervise: bool = True,
        restart_backoff_s: float = 1.0,
    ) -> None:
        unknown = set(services) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services: {', '.join(sorted(unknown))}")
        self.workdir = workdir.resolve()
        self.log_dir = self.workdir / "logs"
        self.env = {**os.environ, **(env or {})}
        self.services = tuple(services)
        self.ready_timeout_s = ready_timeout_s
        self._say = say or (lambda _: None)
        self._argv = argv or service_argv
        self.roles = check_roles(roles)
        self.units: dict[str, Unit] = plan_units(
            self.services,
            self.roles,
            self._get,
            base_port=base_port,
            ports=ports,
            worker_ports=worker_ports,
        )
        front = [u for u in self.units.values() if u.role != "worker"]
        back = [u for u in self.units.values() if u.role == "worker"]
        self.ports = {u.service: u.port for u in front}
        self.urls = {u.service: u.url for u in front}
        self.worker_ports = {u.service: u.port for u in back}
        self.worker_urls = {u.service: u.url for u in back}
        self.kafka_port = kafka_port or int(self._get("SIGHTLINE_KAFKA_PORT") or 9092)
        self.database_urls: dict[str, str] = {}
        self.postgres: EmbeddedPostgres | None = None
        self.kafka: EmbeddedKafka | None = None
        self._bootstrap: str | None = None
        self._children: dict[str, _Child] = {}
        self._supervise = supervise
        self.supervisor = Supervisor(self, self._say, base_s=restart_backoff_s)

    @property
    def restarts(self) -> dict[str, int]:
        return self.supervisor.restarts

    @classmethod
    def on_free_ports(
        cls,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        services: Sequence[str] = SERVICES,
        roles: Sequence[str] = SPLIT,
        ready_timeout_s: float = READY_TIMEOUT_S,
        say: Callable[[str], None] | None = None,
        argv: Callable[[str, str], list[str]] | None = None,
        supervise: bool = True,
        restart_backoff_s: float = 1.0,
    ) -> Runtime:
        """A runtime whose processes and embedded broker use ports the OS reports free now."""
        return cls(
            workdir,
            ports={svc: free_port() for svc in services},
            worker_ports={svc: free_port() for svc in services},
            kafka_port=free_port(),
            env=env,
            services=services,
            roles=roles,
            ready_timeout_s=ready_timeout_s,
            say=say,
            argv=argv,
            supervise=supervise,
            restart_backoff_s=restart_backoff_s,
        )

    def _get(self, name: str) -> str | None:
        """An environment value; empty counts as unset so tests can blank inherited ones."""
        return env_value(self.env, name)

    @property
    def bootstrap(self) -> str:
        if self._bootstrap is None:
            raise LaunchError("the runtime is not started")
        return self._bootstrap

    @property
    def topics(self) -> list[str]:
        return topic_names(self.env)

    def log_path(self, unit: str) -> Path:
        """The log of a unit: `pipeline` (its api, or the one process) or `pipeline-worker`."""
        return self.log_dir / f"{unit}.log"

    # -- start ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bring everything up; on any failure stop what was started and raise LaunchError."""
        atexit.register(self.stop)  # a crash must not leave PostgreSQL or the broker behind
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.postgres, self.database_urls = provide_databases(
                self.env, self.services, self.workdir / "pg", self._say
            )
            self.kafka, self._bootstrap = provide_broker(
                self.env, self.kafka_port, self.log_dir, self._say
            )
            self._write_state()
            for name in self.units:
                self._spawn(name)
            self._wait_ready()
            if self._supervise:
                self.supervisor.start()
        except BaseException:
            self.stop()
            raise

    def _write_state(self) -> None:
        """Where the databases are, for `sightline dead-letters` and `sightline outbox`."""
        state = {"databases": self.database_urls, "bootstrap": self.bootstrap}
        (self.workdir / "runtime.json").write_text(json.dumps(state, indent=2))

    def _spawn(self, name: str, append: bool = False) -> None:
        unit = self.units[name]
        svc, port = unit.service, unit.port
        if port_is_open("127.0.0.1", port):
            setting = "WORKER_PORT" if unit.role == "worker" else "PORT"
            raise LaunchError(
                f"port {port} for {unit.label} is in use; "
                f"set SIGHTLINE_{svc.upper()}_{setting} to another"
            )
        env = {
            **self.env,
            "DATABASE_URL": self.database_urls[svc],
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SIGHTLINE_SERVICE": svc,
            "SIGHTLINE_MODE": unit.role,
            "SIGHTLINE_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            # The children run this checkout's code even when it is not pip-installed.
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_ROOT), self._get("PYTHONPATH")])
            ),
        }
        log = self.log_path(name).open("ab" if append else "wb")
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            self._argv(svc, unit.role),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: Ctrl-C reaches the launcher only
            preexec_fn=child_preexec(),
        )
        self._children[name] = _Child(process, log)

    def _wait_ready(self) -> None:
        pending = set(self._children)
        deadline = time.monotonic() + self.ready_timeout_s
        with httpx.Client(timeout=1.0) as client:
            while pending:
                for name in sorted(pending):
                    self._raise_if_dead(name)
                    unit = self.units[name]
                    try:
                        response = client.get(f"{unit.url}/readyz")
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 200:
                        pending.discard(name)
                        self._say(f"{unit.label} is ready on {unit.url}")
                if pending and time.monotonic() > deadline:
                    tails = "\n".join(
                        f"--- {self.log_path(s)} ---\n{log_tail(self.log_path(s))}"
                        for s in sorted(pending)
                    )
                    raise LaunchError(
                        f"not ready after {self.ready_timeout_s:.0f}s: "
                        f"{', '.join(sorted(pending))}\n{tails}"
                    )
                if pending:
                    time.sleep(0.2)

    def _raise_if_dead(self, name: str) -> None:
        code = self._children[name].process.poll()
        if code is not None:
            raise LaunchError(
                f"{self.units[name].label} exited with code {code}; last lines of "
                f"{self.log_path(name)}:\n{log_tail(self.log_path(name))}"
            )

    # -- run and stop --------------------------------------------------------------------

    def exited(self) -> str | None:
        """The first unit whose process has exited, if any."""
        for name, child in self._children.items():
            if child.process.poll() is not None:
                return name
        return None

    # -- supervision (called from the supervisor's thread) --------------------------------

    def pid(self, unit: str) -> int | None:
        """The process id of a running unit: `pipeline` is the api (or the one process),
        `pipeline-worker` the worker. It changes when the supervisor restarts it."""
        child = self._children.get(unit)
        if child is None or child.process.poll() is not None:
            return None
        return child.process.pid

    def exit_code(self, unit: str) -> int | None:
        child = self._children.get(unit)
        return child.process.poll() if child is not None else None

    def respawn(self, unit: str, why: str) -> None:
        old = self._children.pop(unit, None)
        if old is not None:
            stop_process_groups([old.process], grace_s=1.0)  # reap any leftover of its group
            old.log.close()
        label = self.units[unit].label
        with self.log_path(unit).open("ab") as log:
            log.write(f"\n--- sightline: {label} {why}; starting it again ---\n".encode())
        self._spawn(unit, append=True)
        self._say(f"{label} {why}; started it again (pid {self._children[unit].process.pid})")

    def broker_down(self) -> bool:
        return self.kafka is not None and not self.kafka.running

    def restart_broker(self) -> None:
        """Same port, empty (memory storage): topics are created, the relays republish."""
        if self.kafka is None:
            return
        self.kafka.stop()
        self.kafka.start()
        ensure_domain_topics(self.env, self.kafka.bootstrap)

    def postgres_down(self) -> bool:
        return self.postgres is not None and not self.postgres.alive

    def restart_postgres(self) -> None:
        if self.postgres is not None:
            self.postgres.restart()

    def stop(self) -> None:
        """Services first (SIGTERM, then SIGKILL), then the broker, then PostgreSQL. Idempotent."""
        atexit.unregister(self.stop)
        self.supervisor.stop()  # nothing may be restarted while we stop it
        children, self._children = list(self._children.values()), {}
        steps: list[tuple[str, Callable[[], None]]] = [
            ("services", lambda: stop_process_groups([c.process for c in children], STOP_GRACE_S))
        ]
        if self.kafka is not None:
            steps.append(("broker", self.kafka.stop))
        if self.postgres is not None:
            steps.append(("PostgreSQL", self.postgres.stop))
        self.kafka = self.postgres = None
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # keep going: the later parts must still be stopped
                print(f"sightline: stopping {name} failed: {exc!r}", file=sys.stderr)
        for child in children:
            child.log.close()

    def demo_token(self) -> str | None:
        """A token for the demo admin, signed the way the services will verify it (None: RS256)."""
        return demo_token(self.env)


def up(state_dir: Path | None = None) -> int:
    """Run everything in the foreground, supervised, until Ctrl-C/SIGTERM; return exit code."""
    from shared.runtime.foreground import run_foreground

    return run_foreground(state_dir)
