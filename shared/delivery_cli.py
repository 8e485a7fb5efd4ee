"""`sightline dead-letters` and `sightline outbox`: see, replay and discard what was parked.

Databases are found, per service, in `--database-url`, else `SIGHTLINE_<SERVICE>_DATABASE_URL`,
else the `runtime.json` that `sightline up` writes in its state directory, else `DATABASE_URL`
(with `--service`, as `sightline serve` reads it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from shared.messaging import deadletters, outbox
from shared.runtime.processes import run_blocking

T = TypeVar("T")
SERVICES = ("pipeline", "scoring", "alert", "collab")

dead_letters_app = typer.Typer(
    help="Messages a consumer parked: list, replay (through the inbox) or discard them.",
    no_args_is_help=True,
)
outbox_app = typer.Typer(
    help="Events the relay parked (cannot be published): list or release them.",
    no_args_is_help=True,
)

ServiceOpt = Annotated[
    str | None, typer.Option("--service", help="pipeline, scoring, alert or collab (default all)")
]
UrlOpt = Annotated[str | None, typer.Option("--database-url", help="a service database")]
StateOpt = Annotated[Path, typer.Option("--state-dir", help="state directory of `sightline up`")]
IdOpt = Annotated[list[int] | None, typer.Option("--id", help="row id (repeatable)")]
ConsumerOpt = Annotated[str | None, typer.Option(help="consumer group (substring)")]
TypeOpt = Annotated[str | None, typer.Option("--event-type", help="ce_type or event name")]
DEFAULT_STATE = Path(".sightline")


def databases(service: str | None, database_url: str | None, state_dir: Path) -> dict[str, str]:
    """Service -> database URL for the services the command is about."""
    if service is not None and service not in SERVICES:
        raise typer.BadParameter(f"one of {', '.join(SERVICES)}", param_hint="--service")
    if database_url:
        return {service or "database": database_url}
    state_file = state_dir / "runtime.json"
    known: dict[str, str] = {}
    if state_file.exists():
        known = json.loads(state_file.read_text()).get("databases", {})
    found: dict[str, str] = {}
    for svc in [service] if service else SERVICES:
        url = os.environ.get(f"SIGHTLINE_{svc.upper()}_DATABASE_URL") or known.get(svc)
        if not url and service:
            url = os.environ.get("DATABASE_URL")
        if url:
            found[svc] = url
    if not found:
        typer.echo(
            "sightline: no database found; give --database-url, set DATABASE_URL with --service,"
            f" or run where `sightline up` keeps its state ({state_file})",
            err=True,
        )
        raise typer.Exit(2)
    return found


def _each(urls: dict[str, str], action: Callable[..., Awaitable[T]]) -> dict[str, T]:
    from shared.db import make_engine

    async def run(url: str) -> T:
        engine = make_engine(url, pool_size=1)
        try:
            return await action(engine)
        finally:
            await engine.dispose()

    return {svc: run_blocking(run(url)) for svc, url in urls.items()}


def _filter(
    ids: list[int] | None, consumer: str | None, event_type: str | None, status: str
) -> deadletters.DeadLetterFilter:
    statuses = ("parked", "replay", "replayed", "discarded") if status == "all" else (status,)
    return deadletters.DeadLetterFilter(consumer, event_type, tuple(ids or ()), statuses)


@dead_letters_app.command("list")
def list_dead_letters(
    service: ServiceOpt = None,
    consumer: ConsumerOpt = None,
    event_type: TypeOpt = None,
    ids: IdOpt = None,
    status: Annotated[str, typer.Option(help="parked, replay, replayed, discarded or all")] = (
        "parked"
    ),
    database_url: UrlOpt = None,
    state_dir: StateOpt = DEFAULT_STATE,
) -> None:
    """Show parked messages with their error."""
    which = _filter(ids, consumer, event_type, status)
    found = _each(
        databases(service, database_url, state_dir),
        lambda engine: deadletters.list_dead_letters(engine, which),
    )
    total = 0
    for svc, rows in found.items():
        for r in rows:
            total += 1
            typer.echo(
                f"{svc}\t#{r.id}\t{r.status}\t{r.consumer}\t{r.event_type or '-'}\t"
                f"{r.event_id or '-'}\t{r.topic}/{r.partition}@{r.offset}\t"
                f"attempts={r.attempts}\t{r.parked_at.isoformat()}\t{r.error}"
            )
    typer.echo(f"{total} dead letter(s)", err=True)


@dead_letters_app.command("replay")
def replay_dead_letters(
    service: ServiceOpt = None,
    consumer: ConsumerOpt = None,
    event_type: TypeOpt = None,
    ids: IdOpt = None,
    database_url: UrlOpt = None,
    state_dir: StateOpt = DEFAULT_STATE,
) -> None:
    """Hand parked messages back to their consumer, which applies them through its inbox."""
    which = _filter(ids, consumer, event_type, "parked")
    found = _each(
        databases(service, database_url, state_dir),
        lambda engine: deadletters.request_replay(engine, which),
    )
    for svc, count in found.items():
        typer.echo(f"{svc}: {count} dead letter(s) queued for replay")


@dead_letters_app.command("discard")
def discard_dead_letters(
    service: ServiceOpt = None,
    consumer: ConsumerOpt = None,
    event_type: TypeOpt = None,
    ids: IdOpt = None,
    everything: Annotated[bool, typer.Option("--all", help="discard every parked row")] = False,
    database_url: UrlOpt = None,
    state_dir: StateOpt = DEFAULT_STATE,
) -> None:
    """Give up on parked messages (kept for the record, never replayed)."""
    if not (ids or consumer or event_type or everything):
        raise typer.BadParameter("name rows with --id, --consumer or --event-type, or give --all")
    which = _filter(ids, consumer, event_type, "parked")
    found = _each(
        databases(service, database_url, state_dir),
        lambda engine: deadletters.discard(engine, which),
    )
    for svc, count in found.items():
        typer.echo(f"{svc}: {count} dead letter(s) discarded")


@outbox_app.command("list")
def list_parked_events(
    service: ServiceOpt = None,
    ids: IdOpt = None,
    event_type: TypeOpt = None,
    database_url: UrlOpt = None,
    state_dir: StateOpt = DEFAULT_STATE,
) -> None:
    """Show events the relay parked, with why; later events of their key wait behind them."""
    found = _each(
        databases(service, database_url, state_dir),
        lambda engine: outbox.list_parked(engine, ids or (), event_type),
    )
    total = 0
    for svc, rows in found.items():
        for r in rows:
            total += 1
            typer.echo(
                f"{svc}\t#{r.global_id}\t{r.event_name} v{r.event_version}\t{r.stream_id}"
                f" v{r.version}\tkey={r.partition_key}\t{r.parked_at.isoformat()}\t{r.park_error}"
            )
    typer.echo(f"{total} parked event(s)", err=True)


@outbox_app.command("replay")
def release_parked_events(
    service: ServiceOpt = None,
    ids: IdOpt = None,
    event_type: TypeOpt = None,
    database_url: UrlOpt = None,
    state_dir: StateOpt = DEFAULT_STATE,
) -> None:
    """Release parked events (after the fix or upgrade): the relay sends them in their place."""
    found = _each(
        databases(service, database_url, state_dir),
        lambda engine: outbox.release(engine, ids or (), event_type),
    )
    for svc, count in found.items():
        typer.echo(f"{svc}: {count} parked event(s) released")
