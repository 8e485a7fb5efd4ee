"""Where the CPU went during a measurement: service, PostgreSQL, broker, load generator."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil

Matcher = Callable[[psutil.Process], bool]


def _tree(pid: int) -> Matcher:
    def match(proc: psutil.Process) -> bool:
        if proc.pid == pid:
            return True
        with contextlib.suppress(psutil.Error):
            return any(p.pid == pid for p in proc.parents())
        return False

    return match


def _named(*fragments: str) -> Matcher:
    def match(proc: psutil.Process) -> bool:
        with contextlib.suppress(psutil.Error):
            name = proc.name()
            return any(f in name for f in fragments)
        return False

    return match


def standard_groups(
    service_pid: int | None,
    postgres_pid: int | None = None,
    broker_pid: int | None = None,
    services: Mapping[str, int] | None = None,
) -> dict[str, Matcher]:
    """Service, database and broker (by process tree when the pid is known, else by name).

    `services` names several services (name → pid) instead of the one `service` group.
    """
    groups: dict[str, Matcher] = {}
    if service_pid is not None:
        groups["service"] = _tree(service_pid)
    for name, pid in (services or {}).items():
        groups[name] = _tree(pid)
    groups["postgres"] = _tree(postgres_pid) if postgres_pid else _named("postgres")
    groups["broker"] = _tree(broker_pid) if broker_pid else _named("tansu")
    me = os.getpid()
    groups["loadgen"] = lambda proc: proc.pid == me  # this process only, not its children
    return groups


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


@dataclass
class CpuMeter:
    """CPU seconds per group between `start()` and `stop()`, as a share of one core."""

    groups: dict[str, Matcher]
    _before: dict[int, tuple[str, float]] = field(default_factory=dict)
    _machine_before: float = 0.0
    _steal_before: float = 0.0
    _t0: float = 0.0
    result: dict[str, float] = field(default_factory=dict)

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        seen: dict[int, tuple[str, float]] = {}
        for proc in psutil.process_iter():
            for name, match in self.groups.items():
                if match(proc):
                    with contextlib.suppress(psutil.Error):
                        seen[proc.pid] = (name, _cpu_seconds(proc))
                    break
        return seen

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return float(t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0)) + float(
            getattr(t, "softirq", 0)
        )

    @staticmethod
    def _steal() -> float:
        """CPU time the hypervisor gave to other guests while this one wanted it."""
        return float(getattr(psutil.cpu_times(), "steal", 0.0))

    def start(self) -> None:
        self._before = self._snapshot()
        self._machine_before = self._machine_busy()
        self._steal_before = self._steal()
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        wall = max(1e-9, time.monotonic() - self._t0)
        used: dict[str, float] = dict.fromkeys(self.groups, 0.0)
        for pid, (name, secs) in after.items():
            used[name] += secs - self._before.get(pid, (name, 0.0))[1]
        self.result = {f"{name}_cores": round(v / wall, 3) for name, v in used.items()}
        machine = (self._machine_busy() - self._machine_before) / wall
        self.result["machine_busy_cores"] = round(machine, 3)
        self.result["other_cores"] = round(machine - sum(used.values()) / wall, 3)
        # not in `machine_busy_cores`: time this machine's runnable work waited for the host
        self.result["steal_cores"] = round((self._steal() - self._steal_before) / wall, 3)
        return self.result


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it reaped.

    Summed this way a child that ends during a measurement (a database backend of a closed
    connection, a worker process) still counts: its time moves into its parent's children
    times when it is reaped.
    """
    try:
        proc = psutil.Process(pid)
        t = proc.cpu_times()
        total = float(t.user + t.system + t.children_user + t.children_system)
        children = proc.children(recursive=True)
    except psutil.Error:
        return 0.0
    for child in children:
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += float(c.user + c.system + c.children_user + c.children_system)
    return total


def own_cpu_seconds() -> float:
    """This process and its reaped children (workers), not its live ones (embedded servers)."""
    import resource

    me, reaped = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + reaped.ru_utime + reaped.ru_stime
