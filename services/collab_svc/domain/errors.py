"""Domain errors of collab; the HTTP layer maps their base classes to problems."""

from __future__ import annotations

from shared.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailedError


class NotPermittedError(ForbiddenError):
    slug, title = "not-permitted", "Your role or region does not allow this"


class RegionNotFoundError(NotFoundError):
    slug, title = "region-not-found", "No such region"


class TeamNotFoundError(NotFoundError):
    slug, title = "team-not-found", "No such team"


class MemberNotFoundError(NotFoundError):
    slug, title = "member-not-found", "No such member"


class AccountNotFoundError(NotFoundError):
    slug, title = "account-not-found", "No such account"


class GroupNotFoundError(NotFoundError):
    slug, title = "group-not-found", "No account belongs to this group"


class ContactRequestNotFoundError(NotFoundError):
    slug, title = "contact-request-not-found", "No such contact request"


class AlreadyExistsError(ConflictError):
    slug, title = "already-exists", "It exists already"


class UnknownReferenceError(ValidationFailedError):
    """The body names a region, team or member that is not in the directory."""

    slug, title = "unknown-reference", "The request refers to something that does not exist"


class OwnRegionError(ConflictError):
    """Members of the owning region contact their own accounts without asking."""

    slug, title = "own-region-account", "Your region owns this account: no request is needed"


class AlreadyDecidedError(ConflictError):
    slug, title = "already-decided", "The contact request was decided already"


class InvalidWindowError(ValidationFailedError):
    slug, title = "invalid-window", "The contact window is not valid"


class WindowClosedError(ConflictError):
    slug, title = "window-closed", "The requested contact window has ended"
