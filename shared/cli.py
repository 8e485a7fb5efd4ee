"""The `sightline` command line: run everything, serve one service, mint dev tokens."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from pydantic import ValidationError

from shared.delivery_cli import dead_letters_app, outbox_app
from shared.replay_cli import replay

app = typer.Typer(
    name="sightline",
    help="Sightline: run the four services locally and operate them.",
    no_args_is_help=True,
    add_completion=False,
)

app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(outbox_app, name="outbox")
app.command()(replay)

ServiceArg = Annotated[str, typer.Argument(help="pipeline, scoring, alert or collab")]


@app.command()
def up() -> None:
    """Start PostgreSQL and a broker (embedded unless configured) and all four services."""
    from shared.runtime.launcher import up as run_up

    raise typer.Exit(run_up())


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="user id (the `sub` claim)")],
    role: Annotated[
        str, typer.Option(help="rep, supervisor, regional_manager, admin, partner, importer")
    ],
    region: Annotated[str, typer.Option(help="sales region")],
    team: Annotated[str, typer.Option(help="team id")],
    ttl: Annotated[int, typer.Option(help="lifetime in seconds", min=1)] = 8 * 3600,
) -> None:
    """Print a signed HS256 JWT (secret from JWT_SECRET, else the local dev secret)."""
    from shared.auth import issue_token
    from shared.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"sightline: bad configuration: {exc}", err=True)
        raise typer.Exit(2) from None
    if settings.jwt_algorithm != "HS256":
        typer.echo("sightline: tokens come from the identity provider under RS256", err=True)
        raise typer.Exit(2)
    try:
        signed = issue_token(
            settings.secret(),
            sub=sub,
            role=role,
            region=region,
            team=team,
            ttl_s=ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None
    typer.echo(signed)


class Role(StrEnum):
    api = "api"
    worker = "worker"
    all = "all"


@app.command()
def serve(
    service: ServiceArg,
    role: Annotated[
        Role | None,
        typer.Option(
            help="api: the HTTP API; worker: outbox relay, consumers, schedulers (HTTP for "
            "/healthz, /readyz, /metrics only, on the service's port + 100 unless "
            "SIGHTLINE_PORT is set); all: both. Default: SIGHTLINE_MODE, else all",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run one process of a service (`sightline up` starts an api and a worker per service)."""
    from shared.runtime.serve import serve as run_serve

    run_serve(service, role.value if role is not None else None)


@app.command()
def republish(service: ServiceArg) -> None:
    """Publish a service's event log to the broker again (after the broker lost its data)."""
    from shared.runtime.serve import republish as run_republish

    run_republish(service)


@app.command()
def demo(
    size: Annotated[str, typer.Option(help="small, medium, full, or a number of reps")] = "small",
    seed: Annotated[int, typer.Option(help="the same seed gives the same organisation")] = 42,
    profile: Annotated[str, typer.Option(help="before or after (behaviour profile)")] = "after",
    months: Annotated[int, typer.Option(help="months of history up to --now", min=1, max=36)] = 12,
    now: Annotated[
        str | None, typer.Option(help="business 'now', ISO 8601 (default: today 00:00 UTC)")
    ] = None,
    pipeline_url: Annotated[str, typer.Option(help="pipeline API")] = "http://127.0.0.1:8001",
    collab_url: Annotated[str, typer.Option(help="collab API")] = "http://127.0.0.1:8004",
    prefix: Annotated[str, typer.Option(help="prefix of every id (seed twice side by side)")] = "",
    concurrency: Annotated[int, typer.Option(help="streams played at once", min=1)] = 8,
    dry_run: Annotated[bool, typer.Option(help="show the plan and its KPIs, send nothing")] = False,
) -> None:
    """Seed a simulated sales organisation through the public REST APIs (importer role)."""
    import asyncio

    import httpx
    from rich.console import Console

    from shared.demo.command import run_demo
    from shared.demo.profiles import PROFILES
    from shared.settings import Settings

    if profile not in PROFILES:
        raise typer.BadParameter("before or after", param_hint="--profile")
    try:
        ok = asyncio.run(
            run_demo(
                size=size,
                seed=seed,
                profile=profile,
                months=months,
                now=now,
                pipeline_url=pipeline_url,
                collab_url=collab_url,
                prefix=prefix,
                concurrency=concurrency,
                dry_run=dry_run,
                settings=Settings(),
                console=Console(),
            )
        )
    except (ValueError, KeyError, httpx.HTTPError) as exc:
        typer.echo(f"sightline demo: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    app()
