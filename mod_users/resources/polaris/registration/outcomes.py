"""What one call of a registration conversation answers (Polaris' DtoPatronResult): a prompt to reply
to, a stop, a cancellation, or the saved patron."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mod_users.resources.polaris.registration import duplicates
from mod_users.resources.polaris.registration.papi import (
    Action,
    Procedure,
    PromptType,
    ReturnCode,
    Status,
    Step,
    StopType,
)
from mod_users.resources.polaris.registration.proposal import patron_fields


@dataclass(frozen=True)
class Outcome:
    """How a call ended, without the patron it concerns."""

    step: Step
    status: Status
    action: Action
    code: ReturnCode
    message: str
    details: list[str] = field(default_factory=list)
    prompt_type: PromptType = PromptType.NONE
    stop_type: StopType = StopType.NONE
    duplicates: list[dict[str, Any]] | None = None

    def answer(self, record: dict[str, Any]) -> dict[str, Any]:
        """The DtoPatronResult for ``record`` (saved, or what would have been saved)."""
        return {
            **patron_fields(record),
            "PAPIProcedure": int(Procedure.PATRON_REGISTRATION),
            "PAPIProcedureStep": int(self.step),
            "PAPIProcedureStatus": int(self.status),
            "PAPIAction": int(self.action),
            "PAPIPromptType": int(self.prompt_type),
            "PAPIStopType": int(self.stop_type),
            "PAPIReturnCode": int(self.code),
            "Success": self.status == Status.COMPLETED,
            "Message": self.message,
            "AdditionalMessages": list(self.details),
            "DuplicatePatrons": self.duplicates,
            "DuplicatePatronDisplayProperties": list(duplicates.DISPLAY_PROPERTIES) if self.duplicates else None,
        }


def prompt(
    step: Step,
    kind: PromptType,
    code: ReturnCode,
    message: str,
    details: list[str] | None = None,
    found: list[dict[str, Any]] | None = None,
) -> Outcome:
    """A question for the user; the client replies with ProcedureStep ``step`` and an Answer."""
    return Outcome(
        step, Status.IN_PROGRESS, Action.PROMPT, code, message, details or [], prompt_type=kind, duplicates=found
    )


def stop(step: Step, kind: StopType, code: ReturnCode, message: str, details: list[str] | None = None) -> Outcome:
    """The request cannot be saved as it is; nothing was saved."""
    return Outcome(step, Status.STOPPED, Action.STOP, code, message, details or [], stop_type=kind)


def cancelled(step: Step) -> Outcome:
    """The user answered no to the prompt of ``step``; nothing was saved."""
    return Outcome(
        step,
        Status.CANCELLED,
        Action.STOP,
        ReturnCode.CANCELLED,
        f"Cancelled at step {int(step)}: nothing was saved.",
        stop_type=StopType.CANCELLED,
    )


def done(message: str, details: list[str] | None = None) -> Outcome:
    """The patron was saved."""
    return Outcome(Step.NONE, Status.COMPLETED, Action.NONE, ReturnCode.DONE, message, details or [])
