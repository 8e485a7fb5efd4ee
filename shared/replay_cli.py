"""`sightline replay SERVICE`: rebuild a service's projections from its topics, swap them in.

The database and broker are found as `sightline dead-letters` finds them (`--database-url`,
`SIGHTLINE_<SERVICE>_DATABASE_URL`, the state of `sightline up`, `DATABASE_URL`) and
`--bootstrap-servers`, else `KAFKA_BOOTSTRAP_SERVERS`, else the state of `sightline up`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console

from shared.delivery_cli import DEFAULT_STATE, SERVICES, StateOpt, UrlOpt, databases
from shared.replay.rebuild import ReplayOptions, ReplayResult
from shared.replay.spec import Projection, ReplayPlan
from shared.settings import Settings

ServiceArg = Annotated[str, typer.Argument(help="pipeline, scoring, alert or collab")]


def parse_as_of(value: str, tz: ZoneInfo) -> datetime:
    """ISO 8601; a value without an offset (or a bare date) is in the organisation's time zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not ISO 8601 (e.g. 2026-10-01 or 2026-10-01T00:00:00+08:00)",
            param_hint="--as-of",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def load_plan(settings: Settings) -> ReplayPlan:
    import shared.contracts  # noqa: F401 - registers the event catalogue
    from shared.clock import SystemClock
    from shared.events.registry import registry

    module = importlib.import_module(
        f"services.{settings.service}_svc.entrypoints.consumers.replay"
    )
    plan: ReplayPlan = module.plan(settings, registry, SystemClock())
    return plan


def _settings(service: str) -> Settings:
    if service not in SERVICES:
        raise typer.BadParameter(f"one of {', '.join(SERVICES)}", param_hint="SERVICE")
    try:
        return Settings(service=service)
    except ValidationError as exc:
        typer.echo(f"sightline: bad configuration: {exc}", err=True)
        raise typer.Exit(2) from None


def _servers(
    settings: Settings, database_url: str | None, bootstrap: str | None, state_dir: Path
) -> Settings:
    """The settings with the database and broker to replay against."""
    url = databases(settings.service, database_url, state_dir)[settings.service]
    state = state_dir / "runtime.json"
    if not bootstrap and not settings.kafka_bootstrap_servers and state.exists():
        bootstrap = json.loads(state.read_text()).get("bootstrap")
    bootstrap = bootstrap or settings.kafka_bootstrap_servers
    if not bootstrap:
        typer.echo(
            "sightline: no broker found; give --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS",
            err=True,
        )
        raise typer.Exit(2)
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return settings.model_copy(update={"database_url": url, "kafka_bootstrap_servers": bootstrap})


def report(result: ReplayResult) -> list[str]:
    """What the operator reads after a replay: the rate, the outcome, where the tables are."""
    c = result.counts
    lines = [
        f"{result.service}/{result.projection}: {c.read:,} events in {result.seconds:.1f} s"
        f" ({result.events_per_s:,.0f} events/s): {c.applied:,} applied, {c.duplicates:,}"
        f" duplicates, {c.ignored:,} not handled, {c.later:,} at or after --as-of,"
        f" {c.unreadable:,} unreadable, {c.failed:,} failed"
    ]
    # only events the live consumer parked too may fail: the swap refuses any other
    lines += [
        f"  failed, parked live too: {group} {event}: {error}" for group, event, error in c.failures
    ]
    for table, rows in result.rows.items():
        before = result.rows_before.get(table)
        was = f" (was {before:,})" if before is not None else ""
        lines.append(f"  {result.schema}.{table}: {rows:,} rows{was}")
    if result.as_of is not None:
        lines.append(
            f"  as of {result.as_of.isoformat()}: kept in schema {result.schema}, not swapped in;"
            f" the live tables are untouched (drop it with --clean)"
        )
    elif result.archive:
        lines.append(
            f"  the replaced tables are kept in schema {result.archive} (rollback; --clean)"
        )
    lines += [f"  dropped {name}" for name in result.dropped]
    lines += [f"  topic {t} does not exist: nothing read from it" for t in result.missing_topics]
    return lines


def replay(
    service: ServiceArg,
    consumer: Annotated[
        str | None,
        typer.Option(help="a consumer group or projection (default: every projection)"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="ISO 8601 (no offset: SIGHTLINE_TIMEZONE): only events before it, into a kept"
            " schema that is not swapped in",
        ),
    ] = None,
    drop_previous: Annotated[
        bool, typer.Option(help="after the swap, drop the archives of earlier replays")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=16, help="processes sharing the partitions")
    ] = ReplayOptions.workers,
    clean: Annotated[
        bool,
        typer.Option(help="drop what earlier replays left (archives, as-of schemas); no replay"),
    ] = False,
    database_url: UrlOpt = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (default KAFKA_BOOTSTRAP_SERVERS)")
    ] = None,
    state_dir: StateOpt = DEFAULT_STATE,
) -> None:
    """Rebuild a service's projections from its topics into fresh tables and swap them in."""
    from shared.replay.spec import ReplayRefusedError, UnknownConsumerError

    settings = _settings(service)
    moment = parse_as_of(as_of, ZoneInfo(settings.timezone)) if as_of else None
    try:
        chosen = load_plan(settings).select(consumer)
    except (ReplayRefusedError, UnknownConsumerError) as exc:
        typer.echo(f"sightline replay: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = _servers(settings, database_url, bootstrap_servers, state_dir)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = ReplayOptions(as_of=moment, drop_previous=drop_previous, workers=workers)
    code = asyncio.run(_run(settings, chosen, options, clean, Console(stderr=True)))
    raise typer.Exit(code)


async def _run(
    settings: Settings,
    chosen: list[Projection],
    options: ReplayOptions,
    clean: bool,
    console: Console,
) -> int:
    import shared.contracts  # noqa: F401 - registers the event catalogue
    from shared.db import make_engine
    from shared.events.registry import registry
    from shared.replay.applier import ReplayError
    from shared.replay.progress import for_console
    from shared.replay.reader import EndOffsetsError
    from shared.replay.rebuild import Rebuild
    from shared.replay.tables import ReplaySchemaError, clean_leftovers

    engine = make_engine(settings.database_url or "", pool_size=2)
    try:
        for projection in chosen:
            if clean:
                dropped = await clean_leftovers(engine, settings.service, projection.name)
                typer.echo(
                    f"{settings.service}/{projection.name}: dropped {len(dropped)} schema(s)"
                )
                for name in dropped:
                    typer.echo(f"  {name}")
                continue
            rebuild = Rebuild(engine, settings, registry, projection, options, for_console(console))
            try:
                result = await rebuild.run()
            except (ReplayError, ReplaySchemaError, EndOffsetsError) as exc:
                typer.echo(
                    f"sightline replay: {settings.service}/{projection.name}: {exc}", err=True
                )
                return 1
            for line in report(result):
                typer.echo(line)
    finally:
        await engine.dispose()
    return 0
