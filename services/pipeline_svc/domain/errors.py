"""Domain errors of the pipeline; the HTTP layer maps their base classes to problems."""

from __future__ import annotations

from shared.contracts.pipeline import MissingItem
from shared.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailedError


class OpportunityNotFoundError(NotFoundError):
    slug, title = "opportunity-not-found", "No such opportunity"


class InvalidArtifactError(ValidationFailedError):
    slug, title = "invalid-artifact", "The artifact does not match its kind"


class UnknownKindError(ValidationFailedError):
    slug, title = "unknown-kind", "Not a kind the playbook knows"


class OpportunityClosedError(ConflictError):
    slug, title = "opportunity-closed", "The opportunity is already won or lost"


class LastStageError(ConflictError):
    slug, title = "last-stage", "The deal is in the last stage: close it as won or lost"


class NotPermittedError(ForbiddenError):
    slug, title = "not-permitted", "Your role or region does not allow this"


class PlaybookConflictError(ConflictError):
    slug, title = "playbook-conflict", "The playbook cannot be published"


class GateBlockedError(ConflictError):
    """The stage gate refused: `missing` lists exactly what the action package lacks."""

    slug, title = "stage-gate-blocked", "The stage's action package is incomplete"

    def __init__(self, detail: str, missing: list[MissingItem], from_stage: str, to_stage: str):
        super().__init__(
            detail,
            from_stage=from_stage,
            to_stage=to_stage,
            missing=[m.model_dump() for m in missing],
        )
        self.missing = missing


class RegionIsolationError(ForbiddenError):
    """Another region owns the account: say which, and how to ask for contact."""

    slug, title = "region-isolation", "Another region owns this account"

    def __init__(self, detail: str, account_id: str, owning_region: str) -> None:
        super().__init__(
            detail,
            account_id=account_id,
            owning_region=owning_region,
            request_contact=f"POST /accounts/{account_id}/contact-requests on the collaboration "
            "service; the owning region's supervisor or regional manager approves it",
        )


class AccountNotYetKnownError(ConflictError):
    """The account's ownership has not reached the pipeline yet: refuse rather than guess."""

    slug, title = "account-not-yet-known", "The account is not known here yet; retry shortly"


class MemberNotYetKnownError(ConflictError):
    """The member has not reached the pipeline's org directory yet: refuse rather than guess."""

    slug, title = "member-not-yet-known", "The member is not known here yet; retry shortly"


class StageNotInPlaybookError(ConflictError):
    """The deal sits in a stage the playbook in force does not have (recorded before a change)."""

    slug, title = "stage-not-in-playbook", "The deal's stage is not in the playbook in force"
