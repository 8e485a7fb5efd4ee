"""The processes `sightline up` runs: per service an api and a worker, each on its own port.

The api process serves the business API and appends events; the worker runs the outbox
relay, the consumers and the schedulers, so a burst of requests cannot starve delivery of
CPU (they no longer share an event loop). A unit is one such process; the api keeps the
service's name (`pipeline`, its log `pipeline.log`), the worker is `<service>-worker`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.settings import DEFAULT_PORTS, WORKER_PORT_OFFSET

#: the default shape: an api and a worker process per service
SPLIT: tuple[str, ...] = ("api", "worker")
#: the old shape: one process per service doing both (`sightline serve SERVICE --role all`)
COMBINED: tuple[str, ...] = ("all",)


@dataclass(frozen=True)
class Unit:
    service: str
    role: str  # api, worker or all
    port: int

    @property
    def name(self) -> str:
        return f"{self.service}-worker" if self.role == "worker" else self.service

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        """How messages name it: `pipeline api`, `pipeline worker`, `pipeline`."""
        return self.service if self.role == "all" else f"{self.service} {self.role}"


def check_roles(roles: Sequence[str]) -> tuple[str, ...]:
    shape = tuple(roles)
    if shape not in (SPLIT, COMBINED):
        raise ValueError(f"roles must be {SPLIT} or {COMBINED}, not {shape}")
    return shape


def plan_units(
    services: Sequence[str],
    roles: Sequence[str],
    get: Callable[[str], str | None],
    *,
    base_port: int | None = None,
    ports: Mapping[str, int] | None = None,
    worker_ports: Mapping[str, int] | None = None,
) -> dict[str, Unit]:
    """Every process of every service, by unit name, in start order.

    Ports, first match wins: explicit `ports`/`worker_ports`; `base_port` + the service's
    index (the worker 100 above); `SIGHTLINE_<SVC>_PORT` / `SIGHTLINE_<SVC>_WORKER_PORT`
    (read through `get`); the service's default port (the worker 100 above its api).
    """
    ports = ports or {}
    worker_ports = worker_ports or {}
    units: dict[str, Unit] = {}
    for index, svc in enumerate(services):
        if svc in ports:
            port = ports[svc]
        elif base_port is not None:
            port = base_port + index
        else:
            port = int(get(f"SIGHTLINE_{svc.upper()}_PORT") or DEFAULT_PORTS[svc])
        for role in roles:
            if role != "worker":
                unit = Unit(svc, role, port)
            elif svc in worker_ports:
                unit = Unit(svc, role, worker_ports[svc])
            else:
                explicit = (
                    None if base_port is not None else get(f"SIGHTLINE_{svc.upper()}_WORKER_PORT")
                )
                unit = Unit(svc, role, int(explicit or port + WORKER_PORT_OFFSET))
            units[unit.name] = unit
    return units
