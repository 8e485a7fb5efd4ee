"""`sightline demo`: generate the plan, show it, play it against the running services."""

from __future__ import annotations

from datetime import datetime

import httpx
from rich.console import Console

from shared.auth import issue_token
from shared.clock import SystemClock
from shared.contracts.playbook import PlaybookDefinition
from shared.demo.console import RichProgress, Sign, outcome, summary, token_factory
from shared.demo.driver import Driver, run_id
from shared.demo.generator import generate
from shared.demo.kpis import plan_kpis
from shared.demo.profiles import PROFILES, Shape
from shared.settings import Settings

TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def parse_size(size: str) -> Shape:
    return Shape.of(int(size) if size.isdigit() else size)


def parse_now(now: str | None, wall: datetime) -> datetime:
    """The business 'now' (default: today 00:00 UTC, so a rerun the same day replays)."""
    at = (
        datetime.fromisoformat(now)
        if now
        else wall.replace(hour=0, minute=0, second=0, microsecond=0)
    )
    if at.tzinfo is None:
        raise ValueError("--now needs a time zone, e.g. 2026-11-27T00:00:00+00:00")
    if at > wall:
        raise ValueError("--now lies in the future: business time may not")
    return at


def signer(settings: Settings) -> Sign:
    def sign(sub: str, role: str, region: str, team: str) -> str:
        return issue_token(
            settings.secret(),
            sub=sub,
            role=role,
            region=region,
            team=team,
            ttl_s=12 * 3600,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )

    return sign


async def fetch_playbook(client: httpx.AsyncClient, sign: Sign) -> PlaybookDefinition:
    """The playbook in force: its gates decide which of the plan's advances pass."""
    token = sign("demo-reader", "partner", "hq", "hq")
    r = await client.get("/playbook", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return PlaybookDefinition.model_validate(r.json()["definition"])


async def run_demo(
    *,
    size: str,
    seed: int,
    profile: str,
    months: int,
    now: str | None,
    pipeline_url: str,
    collab_url: str,
    prefix: str,
    concurrency: int,
    dry_run: bool,
    settings: Settings,
    console: Console,
) -> bool:
    shape = parse_size(size)
    at = parse_now(now, SystemClock().now())
    sign = signer(settings)
    if dry_run:
        # no service needed: the plan under the playbook the pipeline ships with
        from services.pipeline_svc.domain.playbook import default_playbook

        plan = generate(
            seed=seed,
            shape=shape,
            profile=PROFILES[profile],
            months=months,
            now=at,
            playbook=default_playbook(),
            prefix=prefix,
        )
        console.print(summary(plan, plan_kpis(plan), profile))
        return True
    async with (
        httpx.AsyncClient(base_url=pipeline_url, timeout=TIMEOUT) as pipeline,
        httpx.AsyncClient(base_url=collab_url, timeout=TIMEOUT) as collab,
    ):
        playbook = await fetch_playbook(pipeline, sign)
        plan = generate(
            seed=seed,
            shape=shape,
            profile=PROFILES[profile],
            months=months,
            now=at,
            playbook=playbook,
            prefix=prefix,
        )
        console.print(summary(plan, plan_kpis(plan), profile))
        run = run_id(seed, profile, shape, months, at.isoformat(), prefix)
        with RichProgress(len(plan.commands), console) as progress:
            driver = Driver(
                {"pipeline": pipeline, "collab": collab},
                token_factory(plan, sign),
                run,
                concurrency=concurrency,
                progress=progress,
            )
            report = await driver.play(plan)
    console.print(outcome(report))
    for line in report.failures:
        console.print(f"[red]{line}[/red]")
    return report.ok
