"""The error hierarchy every service raises; translated to RFC 9457 problems in one place."""

from __future__ import annotations

from typing import Any


class SightlineError(Exception):
    """Base of every expected error. `status`/`slug` decide the problem response."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class ValidationFailedError(SightlineError):
    status, slug, title = 422, "validation-failed", "The request is not valid"


class UnauthorizedError(SightlineError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class ForbiddenError(SightlineError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFoundError(SightlineError):
    status, slug, title = 404, "not-found", "Not found"


class ConflictError(SightlineError):
    status, slug, title = 409, "conflict", "Conflict"


class ConcurrencyError(ConflictError):
    """Someone else appended to the stream first."""

    slug, title = "version-conflict", "The resource was changed concurrently"


class PreconditionFailedError(SightlineError):
    status, slug, title = 412, "precondition-failed", "The version does not match If-Match"


class IdempotencyKeyReusedError(SightlineError):
    status, slug, title = (
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused for another request",
    )


class PayloadTooLargeError(SightlineError):
    status, slug, title = 413, "payload-too-large", "The request body is too large"


class UnavailableError(SightlineError):
    status, slug, title = 503, "unavailable", "Try again later"
