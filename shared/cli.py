"""The `sightline` command line: run everything, serve one service, mint dev tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from shared.delivery_cli import dead_letters_app, outbox_app

app = typer.Typer(
    name="sightline",
    help="Sightline: run the four services locally and operate them.",
    no_args_is_help=True,
    add_completion=False,
)

app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(outbox_app, name="outbox")

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


@app.command()
def serve(service: ServiceArg) -> None:
    """Run one service in this process (what `sightline up` starts for each service)."""
    from shared.runtime.serve import serve as run_serve

    run_serve(service)


@app.command()
def republish(service: ServiceArg) -> None:
    """Publish a service's event log to the broker again (after the broker lost its data)."""
    from shared.runtime.serve import republish as run_republish

    run_republish(service)


if __name__ == "__main__":
    app()
