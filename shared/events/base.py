"""The base of every domain event: a frozen pydantic model with a stable name and version."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """A fact that happened. `occurred_at` is business time (may be imported history)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_name: ClassVar[str] = ""
    event_version: ClassVar[int] = 1
    #: the service whose stream the event belongs to, e.g. "pipeline"
    domain: ClassVar[str] = ""

    occurred_at: AwareDatetime

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def type_name(cls) -> str:
        return f"sightline.{cls.domain}.{cls.event_name}.v{cls.event_version}"
