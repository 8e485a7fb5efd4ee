"""The knobs of a run: sizes, concurrency and durations, overridable from the command line."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: where the bench writes its results (relative to the repository root)
RESULTS_DIR = Path(".sightline") / "bench"
DATABASE_ENV = "BENCH_DATABASE_URL"
KAFKA_ENV = "BENCH_KAFKA_BOOTSTRAP_SERVERS"


@dataclass(frozen=True)
class BenchConfig:
    #: opportunities the load is spread over
    opportunities: int = 200
    #: closed-loop connections of the load generator (HTTP) and of the raw asyncpg pool
    concurrency: int = 16
    warmup_s: float = 2.0
    #: measured seconds per target, split over `rounds` alternating runs (command, CRUD, ...);
    #: rounds of 3-5 s moved the command / same-work ratio by ±0.05 between runs, 10 s ones
    #: by about ±0.02
    duration_s: float = 30.0
    rounds: int = 3
    #: open-loop rate and length of the delivery-latency measurement
    delivery_rate: float = 100.0
    delivery_duration_s: float = 10.0
    #: how long to wait for the last events of the delivery run
    delivery_grace_s: float = 5.0
    #: timeline reads: measured requests per timeline length and variant, connections, and how
    #: the long timelines are seeded ("auto": through the consumer when it would take at most
    #: a minute, else rows copied into the table; "kafka" or "copy" to force one)
    timeline_requests: int = 1000
    timeline_concurrency: int = 4
    timeline_seed: str = "auto"
    #: open-loop rate and length of the pipeline -> collab timeline propagation run
    propagation_rate: float = 100.0
    propagation_duration_s: float = 10.0
    #: how often the collab database is polled for the propagated entries
    propagation_poll_ms: float = 20.0
    #: "split": each service as an api and a worker process, as `sightline up` runs them;
    #: "all": one process per service doing both (for a side-by-side comparison)
    roles: str = "split"
    #: events of the backlog each consumer run applies in the `apply` section
    apply_events: int = 10_000
    #: when set and py-spy is on PATH, the services are profiled during their measurement
    profile_dir: Path | None = None

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["profile_dir"] = str(self.profile_dir) if self.profile_dir else None
        return data


def machine_info() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_count": os.cpu_count(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "loadavg_at_start": list(load) if load else None,
    }
