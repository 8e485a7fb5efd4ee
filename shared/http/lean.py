"""Routes whose well-formed requests skip FastAPI's per-request dependency solving.

FastAPI resolves a route's parameters on every request by walking its dependency tree
generically: for a short command that walk costs about as much as the command's own work. For
a route whose parameters are all of a few plain kinds (scalar path and header parameters, one
JSON body, the `Request`, and dependencies that take nothing but the `Request`), `LeanRoute`
lays the walk out once, when the route is built, and a request then costs only the checks
themselves: the same field validators, the same dependencies in the same order, the endpoint
called with the same values.

Only a request that passes every check takes that way. Anything else (no body or not JSON, a
value that fails validation, a query string, dependency overrides in force) goes through
FastAPI's own handler, so that every error answer is FastAPI's. A dependency that raises on the
lean way raises exactly as it would on FastAPI's, which runs the dependencies after reading the
body and before validating parameters, as the lean way does. A route with any other kind of
parameter is built as a plain `APIRoute`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, get_type_hints

import fastapi.routing
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from shared.http.headers import header

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class _Param:
    """A scalar path or header parameter: its key in the request (a header's in lower case) and
    its FastAPI field."""

    name: str
    key: str
    field: Any
    in_path: bool


@dataclass(frozen=True)
class _Plan:
    call: Callable[..., Coroutine[Any, Any, Response]]
    dependencies: tuple[tuple[str | None, Callable[..., Any], str], ...]
    params: tuple[_Param, ...]
    body: tuple[str, Any] | None
    request_name: str | None


def _returns_response(call: Callable[..., Any]) -> bool:
    try:
        returned = get_type_hints(call).get("return")
    except Exception:
        return False
    return isinstance(returned, type) and issubclass(returned, Response)


def _is_async(call: Callable[..., Any]) -> bool:
    target = call if inspect.isfunction(call) else getattr(call, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(target)


def _request_only(sub: Dependant) -> bool:
    """A dependency FastAPI would call with nothing but the request."""
    return (
        sub.call is not None
        and _is_async(sub.call)
        and sub.request_param_name is not None
        and not sub.dependencies
        and not (sub.path_params or sub.query_params or sub.header_params)
        and not (sub.cookie_params or sub.body_params)
        and sub.websocket_param_name is None
        and sub.http_connection_param_name is None
        and sub.response_param_name is None
        and sub.background_tasks_param_name is None
        and sub.security_scopes_param_name is None
    )


def _scalar(field: Any) -> bool:
    annotation = field.field_info.annotation
    return annotation in (str, int) or annotation == str | None


def _header_key(field: Any) -> str:
    info = field.field_info
    if getattr(info, "convert_underscores", True) and field.alias == field.name:
        return str(field.name).replace("_", "-")
    return str(field.alias)


def plan_for(dependant: Dependant, body_field: Any, embed_body: bool) -> _Plan | None:
    """The lean way through a route, or None when it has a parameter of another kind."""
    call = dependant.call
    if call is None or not inspect.iscoroutinefunction(call) or not _returns_response(call):
        return None
    if dependant.query_params or dependant.cookie_params or embed_body:
        return None
    if any(
        name is not None
        for name in (
            dependant.websocket_param_name,
            dependant.http_connection_param_name,
            dependant.response_param_name,
            dependant.background_tasks_param_name,
            dependant.security_scopes_param_name,
        )
    ):
        return None
    if not all(_request_only(sub) for sub in dependant.dependencies):
        return None
    fields = [_Param(f.name, f.alias, f, True) for f in dependant.path_params] + [
        _Param(f.name, _header_key(f).lower(), f, False) for f in dependant.header_params
    ]
    if not all(_scalar(p.field) for p in fields):
        return None
    if any(p.field.field_info.is_required() for p in fields if not p.in_path):
        return None
    body: tuple[str, Any] | None = None
    if dependant.body_params:
        if len(dependant.body_params) != 1 or body_field is None:
            return None
        model = body_field.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        if not isinstance(body_field.field_info, params.Body) or body_field.field_info.metadata:
            return None
        body = (dependant.body_params[0].name, body_field)
    dependencies = tuple(
        (sub.name, sub.call, sub.request_param_name)
        for sub in dependant.dependencies
        if sub.call is not None and sub.request_param_name is not None
    )
    return _Plan(call, dependencies, tuple(fields), body, dependant.request_param_name)


async def _lean_values(plan: _Plan, request: Request) -> dict[str, Any] | None:
    """The endpoint's arguments as FastAPI would give them, or None to let FastAPI answer."""
    if request.scope.get("query_string"):
        return None
    parsed: Any = None
    if plan.body is not None:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return None
        if not await request.body():
            return None
        try:
            parsed = await request.json()  # json.loads, as FastAPI parses it; kept on the request
        except (ValueError, UnicodeDecodeError):
            return None
    values: dict[str, Any] = {}
    solved: dict[Any, Any] = {}  # a dependency named twice runs once, as FastAPI caches it
    for name, call, request_name in plan.dependencies:
        # what a dependency raises, it raises on FastAPI's way too, before any validation
        if call not in solved:
            solved[call] = await call(**{request_name: request})
        if name is not None:
            values[name] = solved[call]
    for p in plan.params:
        raw = request.path_params.get(p.key) if p.in_path else header(request, p.key)
        if raw is None:
            if p.in_path:
                return None
            values[p.name] = p.field.field_info.get_default(call_default_factory=True)
            continue
        value, errors = p.field.validate(
            raw, values, loc=("path" if p.in_path else "header", p.key)
        )
        if errors:
            return None
        values[p.name] = value
    if plan.body is not None:
        name, field = plan.body
        value, errors = field.validate(parsed, values, loc=("body",))
        if errors:
            return None
        values[name] = value
    if plan.request_name is not None:
        values[plan.request_name] = request
    return values


class LeanRoute(APIRoute):
    """An `APIRoute` that lays out its parameters' resolution once (see the module)."""

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        # a route included into an app is built with the app's and router's dependencies
        # added: FastAPI hands that effective route to this hook through a context variable
        context = fastapi.routing._effective_route_context_var.get()
        route: Any = context if context is not None and context.original_route is self else self
        plan = plan_for(route.dependant, route.body_field, bool(route._embed_body_fields))
        if plan is None:
            return standard
        overrides = route.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if overrides is not None and getattr(overrides, "dependency_overrides", None):
                return await standard(request)
            values = await _lean_values(plan, request)
            if values is None:
                return await standard(request)
            return await plan.call(**values)

        return handler


__all__ = ["LeanRoute", "plan_for"]
