"""How hard a run pushes: the full run and the reduced one CI can afford (<= 3 minutes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChaosConfig:
    #: commands per second offered (open loop: a slow answer does not slow the offer)
    rate: float
    #: load before the first fault, and between the end of one recovery and the next fault
    pause_s: float
    #: how long a killed process or broker may take to come back by itself
    restart_timeout_s: float
    #: how long a restarted service may take to answer /readyz again
    ready_timeout_s: float
    #: how long a database refuses connections
    refuse_s: float
    #: how long PostgreSQL stays down in the abrupt restart
    pg_down_s: float
    #: databases refused in turn (one per fault)
    refused: tuple[str, ...]
    #: after the load: waiting for an empty outbox and no consumer lag
    settle_timeout_s: float
    #: a command is retried (same Idempotency-Key) until it is answered or this elapses
    command_deadline_s: float
    accounts: int
    transfer_accounts: int
    #: which process of each service is killed: its api, its worker (relay, consumers), both
    killed_roles: tuple[str, ...] = ("api", "worker")


FULL = ChaosConfig(
    rate=25.0,
    pause_s=15.0,
    restart_timeout_s=20.0,
    ready_timeout_s=90.0,
    refuse_s=8.0,
    pg_down_s=3.0,
    refused=("pipeline", "collab"),
    settle_timeout_s=120.0,
    command_deadline_s=120.0,
    accounts=12,
    transfer_accounts=4,
)

REDUCED = ChaosConfig(
    rate=10.0,
    pause_s=3.0,
    restart_timeout_s=6.0,
    ready_timeout_s=90.0,
    refuse_s=4.0,
    pg_down_s=1.0,
    refused=("collab",),
    settle_timeout_s=45.0,
    command_deadline_s=60.0,
    accounts=6,
    transfer_accounts=2,
    # the worker only: it holds the delivery work a kill can interrupt (relay, consumers)
    killed_roles=("worker",),
)
