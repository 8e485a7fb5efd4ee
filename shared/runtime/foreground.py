"""`sightline up` in the foreground: start the runtime, print where things are, wait for Ctrl-C."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.runtime.launcher import Runtime
from shared.runtime.provision import DEMO_ADMIN, LaunchError


def _summary(runtime: Runtime) -> str:
    split = bool(runtime.worker_urls)
    logs = "<service>.log (api), <service>-worker.log" if split else "<service>.log"
    lines = ["", f"Sightline is up. Logs: {runtime.log_dir}/{logs}", ""]
    for svc in runtime.services:
        url = runtime.urls[svc]
        lines.append(f"  {svc:<9} {url}   API docs: {url}/docs")
        if split:
            worker = runtime.worker_urls[svc]
            lines.append(f"  {'':<9} {worker}   worker: relay, consumers ({worker}/metrics)")
    lines.append("")
    if runtime.postgres is not None:
        lines.append(f"  PostgreSQL  embedded, data in {runtime.postgres.data_dir}")
    else:
        first = make_url(runtime.database_urls[runtime.services[0]])
        lines.append(f"  PostgreSQL  {first.render_as_string(hide_password=True)}")
    kind = "embedded Tansu, memory storage" if runtime.kafka is not None else "external"
    lines.append(f"  Kafka       {runtime.bootstrap} ({kind})")
    token = runtime.demo_token()
    lines.append("")
    if token is None:
        lines.append("  Tokens come from your identity provider (RS256/JWKS configured).")
    else:
        claims = " ".join(f"{k}={v}" for k, v in DEMO_ADMIN.items())
        lines += [f"  Dev token ({claims}), send as 'Authorization: Bearer $TOKEN':"]
        lines.append(f"  export TOKEN={token}")
    lines += ["", "Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_foreground(state_dir: Path | None = None) -> int:
    """Run everything in the foreground, supervised, until Ctrl-C/SIGTERM; return exit code."""

    def say(message: str) -> None:
        print(f"sightline: {message}", flush=True)

    runtime = Runtime(state_dir or Path.cwd() / ".sightline", say=say)
    # Installed explicitly: a shell starting us in the background leaves SIGINT ignored.
    previous = {
        sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        runtime.start()
        print(_summary(runtime), flush=True)
        while True:  # the supervisor's thread restarts whatever dies
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except LaunchError as exc:
        print(f"sightline: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the shutdown half-way and leave orphans.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopped")
