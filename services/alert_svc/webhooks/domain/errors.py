"""Webhook errors; their shared base classes decide the problem response."""

from __future__ import annotations

from shared.errors import ForbiddenError, NotFoundError, ValidationFailedError


class UrlRefusedError(ValidationFailedError):
    """The URL is not one webhooks may be sent to (scheme, host or address)."""

    slug, title = "webhook-url-refused", "Webhooks may not be sent to this URL"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="url")


class UnknownEventTypeError(ValidationFailedError):
    slug, title = "unknown-event-type", "No such event type"


class NotPermittedError(ForbiddenError):
    slug, title = "not-permitted", "Your role or region does not allow this"


class SubscriptionNotFoundError(NotFoundError):
    slug, title = "webhook-not-found", "No such webhook subscription"


class DeliveryNotFoundError(NotFoundError):
    slug, title = "delivery-not-found", "No such delivery of this webhook"
