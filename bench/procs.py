"""Child processes of a run (services under test, profilers), each in its own process group."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx

from shared.runtime.processes import child_preexec, log_tail, stop_process_groups

REPO_ROOT = Path(__file__).resolve().parents[1]
STOP_GRACE_S = 10.0


class ServiceProcess:
    """One HTTP server process on 127.0.0.1:`port`, logging to `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        port: int,
        log_path: Path,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**os.environ, **env, "PYTHONPATH": _pythonpath()}
        self.port = port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} is not started"
        return self._process.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(  # fixed argv, no shell
            self.argv,
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=child_preexec(),
        )

    async def wait_ready(self, path: str = "/readyz", timeout_s: float = 60.0) -> float:
        """Poll `path` until it answers 200; returns the seconds it took."""
        started = time.monotonic()
        last = "no answer"
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() - started < timeout_s:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self._process.returncode}:\n"
                        f"{log_tail(self.log_path)}"
                    )
                try:
                    response = await client.get(path)
                    if response.status_code == 200:
                        return time.monotonic() - started
                    last = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.1)
        raise RuntimeError(
            f"{self.name} not ready after {timeout_s}s ({last}):\n{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process_groups([process], STOP_GRACE_S)
        if self._log is not None:
            self._log.close()
            self._log = None


class Profiler:
    """`py-spy record` of one process for a fixed time (diagnosis only; skipped without py-spy)."""

    def __init__(self, pid: int, duration_s: float, output: Path) -> None:
        self.output = output
        exe = shutil.which("py-spy") or _venv_tool("py-spy")
        seconds = str(max(1, round(duration_s)))
        options = [
            "--duration",
            seconds,
            "--rate",
            "200",
            "--format",
            "raw",
            "--gil",
            "--nonblocking",
        ]
        self._argv = (
            [exe, "record", "--pid", str(pid), *options, "--output", str(output)] if exe else None
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def available(self) -> bool:
        return self._argv is not None

    def start(self) -> None:
        if self._argv is None:
            return
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(  # fixed argv, no shell
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait(self, timeout_s: float = 30.0) -> None:
        if self._process is None:
            return
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_process_groups([self._process], 2.0)
        self._process = None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process_groups([process], 2.0)


def _pythonpath() -> str:
    current = os.environ.get("PYTHONPATH")
    return f"{REPO_ROOT}{os.pathsep}{current}" if current else str(REPO_ROOT)


def _venv_tool(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None
