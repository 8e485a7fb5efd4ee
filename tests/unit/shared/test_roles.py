"""Where an api and a worker process of a service listen, and what a worker answers."""

from __future__ import annotations

import httpx
import pytest

from services.pipeline_svc.bootstrap import create_app
from shared.runtime.units import COMBINED, SPLIT, check_roles, plan_units
from shared.settings import Settings


def test_a_worker_listens_100_above_its_service_unless_given_a_port() -> None:
    assert Settings(service="collab", mode="api").http_port == 8004
    assert Settings(service="collab", mode="all").http_port == 8004
    assert Settings(service="collab", mode="worker").http_port == 8104
    assert Settings(service="collab", mode="worker", port=9000).http_port == 9000


def test_up_plans_an_api_and_a_worker_per_service_and_honours_the_port_settings() -> None:
    env = {"SIGHTLINE_ALERT_PORT": "9003", "SIGHTLINE_SCORING_WORKER_PORT": "9902"}
    units = plan_units(["pipeline", "scoring", "alert"], SPLIT, env.get)
    ports = {name: (u.service, u.role, u.port) for name, u in units.items()}
    assert ports == {
        "pipeline": ("pipeline", "api", 8001),
        "pipeline-worker": ("pipeline", "worker", 8101),
        "scoring": ("scoring", "api", 8002),
        "scoring-worker": ("scoring", "worker", 9902),
        "alert": ("alert", "api", 9003),
        "alert-worker": ("alert", "worker", 9103),
    }


def unset(_name: str) -> str | None:
    return None


def test_explicit_ports_win_and_the_combined_shape_runs_one_process_per_service() -> None:
    units = plan_units(["pipeline"], SPLIT, unset, ports={"pipeline": 1}, worker_ports={})
    assert [(u.name, u.port) for u in units.values()] == [
        ("pipeline", 1),
        ("pipeline-worker", 101),
    ]
    one = plan_units(["pipeline", "collab"], COMBINED, unset, base_port=7000)
    assert [(u.name, u.role, u.port) for u in one.values()] == [
        ("pipeline", "all", 7000),
        ("collab", "all", 7001),
    ]
    with pytest.raises(ValueError, match="roles must be"):
        check_roles(["worker"])


def worker_client() -> httpx.AsyncClient:
    """The worker's app without its lifespan: routing only, no database or broker."""
    app = create_app(Settings(service="pipeline", mode="worker"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker")


@pytest.mark.parametrize("path", ["/playbook", "/opportunities", "/docs", "/openapi.json"])
async def test_a_worker_app_answers_404_for_the_api_and_its_docs(path: str) -> None:
    async with worker_client() as client:
        answer = await client.get(path)
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("/not-found")
    assert answer.headers["x-correlation-id"]


async def test_a_worker_app_still_answers_its_probes_and_metrics() -> None:
    async with worker_client() as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/metrics")).status_code == 200
