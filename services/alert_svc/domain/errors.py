"""alert_svc's errors: refined from the shared hierarchy (one translation to HTTP)."""

from __future__ import annotations

from shared.errors import ConflictError, ForbiddenError, NotFoundError


class RuleNotFoundError(NotFoundError):
    slug = "rule-not-found"


class RuleExistsError(ConflictError):
    slug = "rule-exists"


class AlertNotFoundError(NotFoundError):
    slug = "alert-not-found"


class ReportNotFoundError(NotFoundError):
    slug = "report-not-found"


class AlertClosedError(ConflictError):
    """A resolved alert takes no acknowledgement or resolution."""

    slug = "alert-resolved"


class NotAllowedError(ForbiddenError):
    pass
