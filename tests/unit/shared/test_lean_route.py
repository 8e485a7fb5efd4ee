"""`LeanRoute` answers every request exactly as FastAPI's own `APIRoute` does.

Two twin apps, built as every service is (`build_app`: its app-wide input check, problem
answers, middleware and bearer auth), with the same endpoints, one routed by `LeanRoute` and
one by `APIRoute`. Each endpoint echoes the values it was called with, so comparing answers
compares the values too. Requests are hand-picked edge cases and generated ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

import shared.http.lean as lean_module
from shared.auth import issue_token
from shared.http.app import build_app
from shared.http.auth import CurrentPrincipal, principal
from shared.http.deps import IfMatchHeader
from shared.http.inputs import reject_unstorable
from shared.http.lean import LeanRoute, plan_for
from shared.settings import DEV_JWT_SECRET
from tests.support import settings_for

Name = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._:@-]+$")]
TOKEN = issue_token(DEV_JWT_SECRET, sub="rep-1", role="rep", region="east", team="east-1")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, Field(min_length=1, max_length=40)]
    text: Annotated[str, Field(max_length=200)] = ""
    tags: list[str] = Field(default_factory=list, max_length=3)
    weight: float | None = None


def _router(route_class: type) -> APIRouter:
    router = APIRouter(prefix="/things", route_class=route_class)

    @router.post("/{name}/notes")
    async def add_note(
        name: Name,
        body: Note,
        request: Request,
        actor: CurrentPrincipal,
        if_match: IfMatchHeader = None,
    ) -> Response:
        echo = {
            "name": name,
            "body": body.model_dump(mode="json"),
            "actor": [actor.sub, actor.role, actor.region, actor.team],
            "if_match": if_match,
            "path": request.url.path,
        }
        return JSONResponse(echo, status_code=201)

    @router.post("")
    async def create(body: Note, actor: CurrentPrincipal) -> Response:
        return JSONResponse({"body": body.model_dump(mode="json"), "actor": actor.sub})

    @router.get("/{name}")
    async def read(name: Name, actor: CurrentPrincipal, limit: int = 10) -> dict[str, Any]:
        return {"name": name, "limit": limit}

    return router


@asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


def _app(route_class: type) -> FastAPI:
    app = build_app(
        settings_for("postgresql+asyncpg://unused@127.0.0.1/unused", "127.0.0.1:1"),
        title="twin",
        description="",
        version="0",
        lifespan=_no_lifespan,
    )
    app.include_router(_router(route_class))
    return app


LEAN, PLAIN = _app(LeanRoute), _app(APIRoute)


def _shape(r: httpx.Response) -> tuple[int, Any, str | None]:
    try:
        body: Any = r.json()
    except ValueError:
        body = r.text
    if isinstance(body, dict):
        body.pop("correlation_id", None)
    return r.status_code, body, r.headers.get("content-type")


async def _both(method: str, url: str, **kw: Any) -> tuple[Any, Any]:
    answers = []
    for app in (LEAN, PLAIN):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers.append(_shape(await client.request(method, url, **kw)))
    return answers[0], answers[1]


def _auth(token: str = TOKEN, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


GOOD = {"kind": "call", "text": "walked the plant", "tags": ["a"], "weight": 1.5}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/things/n1/notes", {"json": GOOD, "headers": _auth()}),
    ("POST", "/things/n1/notes", {"json": GOOD, "headers": _auth(**{"If-Match": '"3"'})}),
    ("POST", "/things/n1/notes", {"json": {"kind": "x"}, "headers": _auth()}),
    ("POST", "/things", {"json": GOOD, "headers": _auth()}),
    # refused by validation: FastAPI's own 422, all errors at once
    ("POST", "/things/bad%20name/notes", {"json": {"kind": ""}, "headers": _auth()}),
    ("POST", "/things/n1/notes", {"json": {"kind": "x", "extra": 1}, "headers": _auth()}),
    ("POST", "/things/n1/notes", {"json": {"tags": [1, 2, 3, 4]}, "headers": _auth()}),
    ("POST", "/things/n1/notes", {"json": [1], "headers": _auth()}),
    ("POST", "/things/n1/notes", {"json": None, "headers": _auth()}),
    (
        "POST",
        "/things/n1/notes",
        {"content": b"{bad", "headers": _auth(**{"Content-Type": "application/json"})},
    ),
    (
        "POST",
        "/things/n1/notes",
        {"content": b"", "headers": _auth(**{"Content-Type": "application/json"})},
    ),
    (
        "POST",
        "/things/n1/notes",
        {"content": b"\xff\xfe", "headers": _auth(**{"Content-Type": "application/json"})},
    ),
    (
        "POST",
        "/things/n1/notes",
        {"content": json.dumps(GOOD), "headers": _auth(**{"Content-Type": "text/plain"})},
    ),
    ("POST", "/things/n1/notes", {"content": json.dumps(GOOD), "headers": _auth()}),
    (
        "POST",
        "/things/n1/notes",
        {
            "content": json.dumps(GOOD),
            "headers": _auth(**{"Content-Type": "application/merge-patch+json"}),
        },
    ),
    (
        "POST",
        "/things/n1/notes",
        {
            "content": json.dumps(GOOD),
            "headers": _auth(**{"Content-Type": "Application/JSON; charset=utf-8"}),
        },
    ),
    # the app-wide check: NUL, lone surrogates, non-finite numbers
    ("POST", "/things/n1/notes", {"json": {"kind": "x", "text": "a\x00b"}, "headers": _auth()}),
    (
        "POST",
        "/things/n1/notes",
        {
            "content": b'{"kind": "x", "weight": NaN}',
            "headers": _auth(**{"Content-Type": "application/json"}),
        },
    ),
    (
        "POST",
        "/things/n1/notes",
        {
            "content": b'{"kind": "x", "text": "\\ud800"}',
            "headers": _auth(**{"Content-Type": "application/json"}),
        },
    ),
    ("POST", "/things/n1/notes?x=1", {"json": GOOD, "headers": _auth()}),
    ("POST", "/things/n1/notes?x=%00", {"json": GOOD, "headers": _auth()}),
    # auth first, whatever the body
    ("POST", "/things/n1/notes", {"json": GOOD}),
    ("POST", "/things/n1/notes", {"json": {"kind": ""}}),
    ("POST", "/things/n1/notes", {"json": GOOD, "headers": _auth("not.a.token")}),
    ("POST", "/things/n1/notes", {"json": GOOD, "headers": {"Authorization": f"Basic {TOKEN}"}}),
    ("POST", "/things/n1/notes", {"json": GOOD, "headers": _auth(**{"If-Match": "soon"})}),
    ("GET", "/things/n1?limit=3", {"headers": _auth()}),
]


@pytest.mark.parametrize(("method", "url", "kw"), CASES)
async def test_an_answer_is_the_same_by_either_route(method: str, url: str, kw: Any) -> None:
    lean, plain = await _both(method, url, **kw)
    assert lean == plain


async def test_a_well_formed_command_reaches_the_endpoint_with_the_values_fastapi_gives() -> None:
    lean, _ = await _both(
        "POST", "/things/n-1/notes", json=GOOD, headers=_auth(**{"If-Match": '"7"'})
    )
    assert lean == (
        201,
        {
            "name": "n-1",
            "body": GOOD,
            "actor": ["rep-1", "rep", "east", "east-1"],
            "if_match": '"7"',
            "path": "/things/n-1/notes",
        },
        "application/json",
    )


async def test_the_lean_way_runs_the_apps_dependencies_before_the_routes_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plans: list[Any] = []
    original = plan_for

    def spy(*args: Any) -> Any:
        plan = original(*args)
        plans.append(plan)
        return plan

    monkeypatch.setattr(lean_module, "plan_for", spy)
    app = _app(LeanRoute)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post("/things/n1/notes", json=GOOD, headers=_auth())
    assert r.status_code == 201
    served = [p for p in plans if p is not None and len(p.dependencies) == 2]
    # the two POST routes as included into the app; the GET (a query parameter) has none
    assert [[d[1] for d in p.dependencies] for p in served] == [[reject_unstorable, principal]] * 2


def test_a_route_with_a_query_parameter_gets_no_lean_plan() -> None:
    route = next(r for r in _router(LeanRoute).routes if getattr(r, "path", "") == "/things/{name}")
    assert plan_for(route.dependant, route.body_field, False) is None  # type: ignore[attr-defined]


BODY_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
BODIES = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.text(max_size=45)},
        optional={
            "text": st.text(max_size=210),
            "tags": st.lists(st.text(max_size=5), max_size=5),
            "weight": st.one_of(
                st.none(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5)
            ),
            "extra": BODY_VALUES,
        },
    ),
    BODY_VALUES,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        min_size=1,
        max_size=24,
    ),
    body=BODIES,
    if_match=st.none() | HEADER_TEXT,
    token=st.sampled_from([TOKEN, None, "x.y.z"]),
)
def test_generated_requests_get_the_same_answer_by_either_route(
    name: str, body: Any, if_match: str | None, token: str | None
) -> None:
    headers = {} if token is None else _auth(token)
    if if_match is not None:
        headers["If-Match"] = if_match
    lean, plain = asyncio.run(_both("POST", f"/things/{name}/notes", json=body, headers=headers))
    assert lean == plain


def test_the_twins_are_two_different_route_kinds() -> None:
    kinds = {type(r).__name__ for app in (LEAN, PLAIN) for r in _iter_routes(app.router.routes)}
    assert "LeanRoute" in kinds and "APIRoute" in kinds


def _iter_routes(routes: Any) -> Iterator[Any]:
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            yield from _iter_routes(inner.routes)
        else:
            yield r


@pytest.mark.parametrize(
    ("kw", "lean_solves"),
    [
        ({"json": GOOD, "headers": _auth()}, 0),
        ({"json": {"kind": ""}, "headers": _auth()}, 1),
        ({"json": GOOD, "headers": _auth(**{"Content-Type": "text/plain"})}, 1),
    ],
)
async def test_only_a_request_that_passes_every_check_skips_fastapis_solver(
    monkeypatch: pytest.MonkeyPatch, kw: dict[str, Any], lean_solves: int
) -> None:
    solves: list[int] = []
    solve = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solves.append(1)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    await _both("POST", "/things/n1/notes", **kw)
    assert len(solves) == lean_solves + 1  # the plain twin always solves once
