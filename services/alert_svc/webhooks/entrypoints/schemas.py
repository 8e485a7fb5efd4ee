"""Request and response schemas of the webhook API (WebhookCreate / WebhookRead families)."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

EventType = Annotated[str, Field(pattern=r"^(\*|[A-Z][A-Za-z0-9]{0,99})$")]
Region = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
DeliveryStatus = Literal["pending", "delivered", "failed"]
T = TypeVar("T")


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1, max_length=2000, examples=["https://hooks.partner.example/sightline"]
    )
    event_types: list[EventType] = Field(
        min_length=1,
        max_length=100,
        description="event names as in `ce_type` (e.g. `AlertRaised`), or `*` for all",
        examples=[["AlertRaised", "RiskReportGenerated"]],
    )
    region: Region | None = Field(
        default=None,
        description="only events of this region (the event's `region`, else `ce_region`); "
        "required of regional managers, who may only name their own",
        examples=["east"],
    )
    description: str | None = Field(default=None, max_length=500, examples=["CRM sync"])


class WebhookRead(BaseModel):
    subscription_id: str
    url: str
    event_types: list[str]
    region: str | None
    description: str | None
    created_by: str
    created_at: Timestamp


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="Standard Webhooks signing secret (`whsec_…`); shown only in this answer",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class AttemptRead(BaseModel):
    attempt: int
    attempted_at: Timestamp
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    delivery_id: str
    subscription_id: str
    event_id: str
    webhook_id: str = Field(description="the `webhook-id` header: the event id, on every try")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    delivered_at: Timestamp | None
    attempt_log: list[AttemptRead]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
