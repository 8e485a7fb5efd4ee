"""One registry of event types: (name, version) -> model, plus upcasters between versions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from shared.events.base import DomainEvent

E = TypeVar("E", bound=type[DomainEvent])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventError(LookupError):
    """An event name/version this process has no model for."""


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[DomainEvent]] = {}
        self._latest: dict[str, int] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: E) -> E:
        name, version = model.event_name, model.event_version
        if not name or not model.domain:
            raise ValueError(f"{model.__name__} needs event_name and domain")
        existing = self._models.get((name, version))
        if existing is not None and existing is not model:
            raise ValueError(f"event {name} v{version} registered twice")
        self._models[(name, version)] = model
        self._latest[name] = max(version, self._latest.get(name, 0))
        return model

    def upcaster(self, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning the payload of `from_version` into `from_version + 1`."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(name, from_version)] = fn
            return fn

        return decorate

    def model(self, name: str, version: int | None = None) -> type[DomainEvent]:
        version = version if version is not None else self._latest.get(name)
        try:
            return self._models[(name, version)]  # type: ignore[index]
        except KeyError:
            raise UnknownEventError(f"{name} v{version}") from None

    def knows(self, name: str) -> bool:
        return name in self._latest

    def latest(self, name: str) -> int | None:
        """The newest version of `name` this process has a model for."""
        return self._latest.get(name)

    def parse(self, name: str, version: int, payload: dict[str, Any]) -> DomainEvent:
        """Build the latest model of `name` from a payload stored at `version`."""
        latest = self._latest.get(name)
        if latest is None:
            raise UnknownEventError(name)
        if version > latest:
            raise UnknownEventError(f"{name} v{version} is newer than this process knows")
        data = dict(payload)
        while version < latest:
            step = self._upcasters.get((name, version))
            if step is None:
                raise UnknownEventError(f"no upcaster for {name} v{version}")
            data = step(data)
            version += 1
        return self.model(name, latest).model_validate(data)

    def parse_json(self, name: str, version: int, body: bytes) -> DomainEvent:
        """`parse` of a JSON body. A body of the latest version is validated straight from its
        bytes (one pass, about twice as fast); an older one is upcast as a dict first."""
        if version == self._latest.get(name):
            return self._models[(name, version)].model_validate_json(body)
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("body is not a JSON object")
        return self.parse(name, version, payload)

    def __iter__(self) -> Iterator[type[DomainEvent]]:
        return iter(sorted(self._models.values(), key=lambda m: (m.domain, m.event_name)))


registry = EventRegistry()
